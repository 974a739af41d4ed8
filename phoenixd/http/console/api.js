// Calls to phoenixd's public HTTP API, with the operator token when this daemon wants one.
// The token lives in this tab's sessionStorage and travels only in the Authorization header.

const TOKEN_KEY = "phoenixflight.token";

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.code;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export function headers(extra = {}) {
  const h = { ...extra };
  if (token()) h.authorization = `Bearer ${token()}`;
  return h;
}

// Listeners told when a call is refused for want of a (valid) token.
const unauthorized = new Set();
export function onUnauthorized(listener) {
  unauthorized.add(listener);
}
export function refused(status) {
  if (status === 401) for (const listener of unauthorized) listener();
}

export async function call(method, path, body) {
  const init = { method, headers: headers() };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["content-type"] = "application/json";
  }
  const response = await fetch(path, init);
  const text = await response.text();
  const payload = text ? JSON.parse(text) : {};
  if (!response.ok) {
    refused(response.status);
    throw new ApiError(response.status, payload);
  }
  return payload;
}

export const get = (path) => call("GET", path);
export const post = (path, body = {}) => call("POST", path, body);

// Every page of a list route: GET path?page_size=..&page_token=.. until no token is left.
export async function all(path, field, pageSize = 500) {
  const items = [];
  let pageToken = "";
  let first;
  for (let page = 0; page < 1000; page++) {
    const sep = path.includes("?") ? "&" : "?";
    const tokenPart = pageToken ? `&page_token=${encodeURIComponent(pageToken)}` : "";
    const payload = await get(`${path}${sep}page_size=${pageSize}${tokenPart}`);
    first = first || payload;
    items.push(...(payload[field] || []));
    pageToken = payload.next_page_token;
    if (!pageToken) break;
  }
  return { items, first };
}
