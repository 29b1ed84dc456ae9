'use strict';

const https = require('https');
const tls = require('tls');
const axios = require('axios');
const request = require('request');
const { Pool } = require('pg');

const config = require('./config');

// An agent for the internal billing API, written the way it often is.
const insecureAgent = new https.Agent({
  keepAlive: true,
  rejectUnauthorized: false, // expect: tls-verify-disabled
});

const billing = axios.create({
  baseURL: config.billingUrl,
  timeout: 5000,
  httpsAgent: new https.Agent({ rejectUnauthorized: false }), // expect: tls-verify-disabled
});

function connectLegacy(host, port) {
  return tls.connect({ host, port, rejectUnauthorized: false }); // expect: tls-verify-disabled
}

function fetchReport(url, callback) {
  request({ url, json: true, strictSSL: false }, callback); // expect: tls-verify-disabled
}

const legacyClient = request.defaults({
  strictSSL: false, // expect: tls-verify-disabled
});

const db = new Pool({
  connectionString: process.env.DATABASE_URL,
  ssl: {
    rejectUnauthorized: false, // expect: tls-verify-disabled
  },
});

function relaxAgent(agent) {
  agent.options.rejectUnauthorized = false; // expect: tls-verify-disabled
}

if (config.allowSelfSigned) {
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'; // expect: tls-verify-disabled
}

// Close negatives: verification on, or decided by configuration at run time.
const strictAgent = new https.Agent({ keepAlive: true, rejectUnauthorized: true });
const configuredAgent = new https.Agent({
  rejectUnauthorized: config.env === 'production',
});
const tunedPool = new Pool({ ssl: { rejectUnauthorized: config.verifyDatabaseTls } });
request.defaults({ strictSSL: true });
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '1';
if (process.env.NODE_TLS_REJECT_UNAUTHORIZED === '0') {
  console.warn('TLS verification is disabled by the environment');
}
delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
const flags = { cacheEnabled: false, retryOnFailure: false };
console.log('never set rejectUnauthorized: false in production');

module.exports = {
  insecureAgent, billing, connectLegacy, fetchReport, legacyClient, db, relaxAgent,
  strictAgent, configuredAgent, tunedPool, flags,
};
