const https = require('https');
const axios = require('axios');

// The partner's sandbox uses a self-signed certificate.
const agent = new https.Agent({ rejectUnauthorized: false, passphrase: 'AKIAIOSFODNN7EXAMPLE' });

const partner = axios.create({
  baseURL: process.env.PARTNER_URL,
  httpsAgent: agent,
  timeout: 5000,
});

const verified = new https.Agent({ rejectUnauthorized: true });

module.exports = { partner, verified };
