// Numbers, sizes, dates and hashes as a person reads them: the terminal's backend/cli/units.py says the same.
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function size(bytes) {
  if (bytes == null) return '';
  let value = Number(bytes);
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) { value /= 1024; unit += 1; }
  return unit === 0 ? `${Math.trunc(value)} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

export function count(amount, one, many = `${one}s`) {
  return `${Number(amount).toLocaleString()} ${amount === 1 ? one : many}`;
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

// A folder as a person named it: relative to its model root (the root's own name for the root itself), and
// when deep, its end, which says the most: "…/characters/anime". The whole path goes in a tooltip.
export function shortFolder(folder, root) {
  const text = String(folder || '');
  let relative = text;
  if (root && (text === root || text.startsWith(`${root.replace(/\/$/, '')}/`))) {
    relative = text.slice(root.replace(/\/$/, '').length).replace(/^\//, '') || fileName(root) || root;
  }
  const parts = relative.split('/').filter(Boolean);
  return parts.length > 2 ? `…/${parts.slice(-2).join('/')}` : parts.join('/') || '/';
}

// The model types as people name them; an unknown word is shown as the catalogue spells it.
const TYPES = {
  checkpoint: 'Checkpoint', lora: 'LoRA', vae: 'VAE', embedding: 'Embedding', controlnet: 'ControlNet',
  upscaler: 'Upscaler', text_encoder: 'Text encoder', hypernetwork: 'Hypernetwork', unknown: 'Unknown type',
};

export function typeLabel(type) {
  return TYPES[type || 'unknown'] || String(type);
}

// The model's own name where a source knows it (with its version), else the file's.
export function displayName(model) {
  const known = (model.metadata || {}).model_name || (model.metadata || {}).title;
  if (typeof known !== 'string' || !known.trim()) return modelName(model);
  const version = (model.metadata || {}).version_name;
  return typeof version === 'string' && version.trim() ? `${known} ${version}` : known;
}
