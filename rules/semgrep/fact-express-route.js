const express = require('express');
const { Router } = require('express');
const rateLimit = require('express-rate-limit');

const orders = require('./orders');

const app = express(); // fact: apps
const api = express.Router();
const admin = Router();

app.set('port', process.env.PORT || 3000);
app.get('env');
app.use(express.json());
app.use('/api', api);

app.get('/healthz', (req, res) => res.json({ status: 'ok' })); // fact: routes

api.get('/orders', orders.list); // fact: routes
api.post( // fact: routes
  '/orders',
  rateLimit({ windowMs: 60000, max: 30 }),
  orders.create,
);
api.delete(`/orders/:id`, orders.remove); // fact: routes
admin.all('/admin/*', orders.audit); // fact: routes

// Close negatives: not Express objects, not route methods, paths that are not literals.
const cache = new Map();
cache.get('/orders');
const client = { get: (path, cb) => cb(path) };
client.get('/orders', () => {});
api.get(orders.pathFor('list'), orders.list);
app.listen(app.get('port'));

module.exports = { app, api, admin };
