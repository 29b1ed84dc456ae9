import * as https from 'node:https';
import { connect, TLSSocket } from 'node:tls';
import axios, { AxiosInstance } from 'axios';
import WebSocket from 'ws';

interface ClientOptions {
  baseUrl: string;
  verifyTls: boolean;
}

export function createClient(options: ClientOptions): AxiosInstance {
  const agent = new https.Agent({
    keepAlive: true,
    rejectUnauthorized: false, // expect: tls-verify-disabled
  });
  return axios.create({ baseURL: options.baseUrl, httpsAgent: agent, timeout: 3000 });
}

export function openSocket(host: string, port: number): TLSSocket {
  const socketOptions: { host: string; port: number; rejectUnauthorized: boolean } = {
    host,
    port,
    rejectUnauthorized: false, // expect: tls-verify-disabled
  };
  return connect(socketOptions);
}

export function subscribe(url: string): WebSocket {
  return new WebSocket(url, { rejectUnauthorized: false as boolean }); // expect: tls-verify-disabled
}

export function allowSelfSignedCertificates(): void {
  process.env['NODE_TLS_REJECT_UNAUTHORIZED'] = '0'; // expect: tls-verify-disabled
}

// Close negatives.
export function createStrictClient(options: ClientOptions): AxiosInstance {
  const agent = new https.Agent({ rejectUnauthorized: options.verifyTls });
  return axios.create({ baseURL: options.baseUrl, httpsAgent: agent, timeout: 3000 });
}

export const verifiedAgent = new https.Agent({ rejectUnauthorized: true });

export type TlsFlags = { rejectUnauthorized: false | true };
