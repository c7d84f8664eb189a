// API failures in a person's words: the status says what kind of problem, the server's message says which.
const SERVICES = { database: 'the database', hasher: 'the hashing service', images: 'the image service' };
const STATUS_BY_CODE = {
  not_found: 404, unavailable: 503, deadline_exceeded: 504, permission_denied: 403, cancelled: 499,
  invalid_parameter: 400, missing_parameter: 400, aborted: 409,
};

export function capital(text) {
  const trimmed = String(text || '').trim();
  return trimmed ? trimmed[0].toUpperCase() + trimmed.slice(1) : '';
}

export function sentence(text) {
  const first = capital(text);
  return !first || /[.!?]$/.test(first) ? first : `${first}.`;
}

export function serviceName(part) {
  return SERVICES[part] || part;
}

function whichService(message) {
  const match = /^(database|hasher|images)\b/.exec(String(message || ''));
  return match ? serviceName(match[1]) : 'a part of ModelVault';
}

export function errorWords(status, code, message) {
  const effective = status >= 400 ? status : STATUS_BY_CODE[code] || status;
  const detail = sentence(message);
  switch (effective) {
    case 0: return 'ModelVault is not answering. Check that it is still running; this page keeps trying.';
    case 400: return `That was not accepted. ${detail}`;
    case 401: return 'This ModelVault asks for its access token.';
    case 403: return `That is not allowed. ${detail}`;
    case 404: return `That was not found. ${detail}`;
    case 409: return `That cannot be done right now. ${detail}`;
    case 413: return 'That request is too large for ModelVault.';
    case 415: return 'ModelVault did not understand how that request was sent.';
    case 429: return 'ModelVault is busy. Try again in a moment.';
    case 499: return 'That was cancelled before it finished.';
    case 503: return `${capital(whichService(message))} is not available right now, so that could not be done. ` +
      'Try again once it is back.';
    case 504: return 'That took too long and was stopped. Try again in a moment.';
    case 507: return 'The disk is full, so that could not be saved.';
    default: return `Something went wrong inside ModelVault (error ${effective}). Its log has the details.`;
  }
}
