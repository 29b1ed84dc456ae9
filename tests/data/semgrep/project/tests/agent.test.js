const https = require('https');

test('talks to the local stub', () => {
  const agent = new https.Agent({
    rejectUnauthorized: false,
  });
  expect(agent).toBeDefined();
});
