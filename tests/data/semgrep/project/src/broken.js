const https = require('https');
function ( {
  return new https.Agent({ rejectUnauthorized: false });
