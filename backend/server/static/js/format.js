// Numbers, sizes, dates and hashes as a person reads them.
const UNITS = ['bytes', 'KB', 'MB', 'GB', 'TB'];

export function size(bytes) {
  if (bytes == null) return '';
  let value = Number(bytes);
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) { value /= 1000; unit += 1; }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`;
}

export function count(n, one, many = `${one}s`) {
  return `${Number(n).toLocaleString()} ${n === 1 ? one : many}`;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function date(value) {
  if (value == null) return '';
  const when = typeof value === 'number' ? new Date(value) : new Date(String(value));
  return Number.isNaN(when.getTime()) ? '' : dateFormat.format(when);
}

export function dateFromNs(ns) {
  return ns == null ? '' : date(Number(BigInt(ns) / 1000000n));
}

export function duration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '';
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

// The "AutoV2" form other model tools show: the first ten hex digits.
export function shortHash(sha256) {
  return (sha256 || '').slice(0, 10);
}

export function fileName(path) {
  return String(path || '').split(/[\\/]/).pop();
}

export function modelName(model) {
  return model.name || fileName(model.path).replace(/\.[^.]+$/, '');
}

export function folderOf(model) {
  if (model.folder != null) return model.folder;
  const parts = String(model.path || '').split('/');
  return parts.slice(0, -1).join('/') || '/';
}

// Deep absolute folders say the most at their end: "…/loras/style", with the whole path as a tooltip.
export function shortFolder(folder) {
  const parts = String(folder).split('/').filter(Boolean);
  return parts.length > 3 ? `…/${parts.slice(-2).join('/')}` : folder;
}
