// The dashboard reads the same JSON API scripts use. The token (typed once) lives in
// sessionStorage only: gone when the tab closes, never in localStorage or a cookie.

const TOKEN_KEY = 'switchyard.token';

export function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

export function setToken(t) {
  try {
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage disabled: the token is then asked again */
  }
}

/** An API failure: the status and the API's own message (its error shape). */
export class ApiError extends Error {
  constructor(status, message, param) {
    super(message);
    this.status = status;
    this.param = param ?? null;
  }
}

const TIMEOUT_MS = 15000;

async function call(method, path, body) {
  const headers = { accept: 'application/json' };
  const t = token();
  if (t) headers.authorization = `Bearer ${t}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), TIMEOUT_MS);
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: ctl.signal,
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, e.name === 'AbortError'
      ? `The gateway did not answer within ${TIMEOUT_MS / 1000} s.`
      : 'The gateway cannot be reached.');
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  const text = await res.text();
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = data && data.error;
    // The API's shape ({error: {message}}), or FastAPI's ({detail}) of the modelab paths.
    const detail = data && typeof data.detail === 'string' ? data.detail : null;
    let message = (err && err.message) || detail || `HTTP ${res.status}`;
    if (res.status === 401 && !t) message += ' Enter the admin token (top right).';
    throw new ApiError(res.status, message, err && err.param);
  }
  return data;
}

export const get = (path) => call('GET', path);
export const post = (path, body = {}) => call('POST', path, body);

/** GET that resolves to null for a 404 (an endpoint this gateway does not have yet). */
export async function getOptional(path) {
  try {
    return await get(path);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

export const enc = encodeURIComponent;
