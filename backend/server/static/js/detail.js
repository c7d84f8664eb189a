// One model: its preview large, every file with that content, metadata with the source of each field.
import { getJson } from './api.js';
import { copyButton } from './copy.js';
import { clear, h, preview } from './dom.js';
import { date, dateFromNs, modelName, shortHash, size } from './format.js';
import { hubSection, webAddress } from './hub.js';

const FIELDS = {
  model_name: 'Model', version_name: 'Version', model_type: 'Type', base_model: 'Base model',
  trained_words: 'Trigger words', civitai_model_id: 'Civitai model', civitai_version_id: 'Civitai version',
  format: 'Format', architecture: 'Architecture', title: 'Title', quantization: 'Quantization',
  parameter_count: 'Parameters', context_length: 'Context length', size_label: 'Size', header_error: 'Header',
  description: 'Description', nsfw_level: 'NSFW level', page_url: 'Hub page',
};
// Shown elsewhere (trigger words) or too long for a table cell (the header's own key-value pairs).
const NOT_IN_TABLE = new Set(['trained_words', 'trigger_words', 'embedded_metadata']);
const SOURCES = {
  a1111: 'AUTOMATIC1111', civitai: 'Civitai (the hub)', civitai_helper: 'Civitai Helper', lora_manager: 'LoRA Manager',
  stability_matrix: 'Stability Matrix', safetensors: 'File header', gguf: 'File header', pickle: 'File (pickle)',
  a1111_user_metadata: 'Your notes (web UI)',
};

function value(metadata, field) {
  const entry = metadata[field];
  return entry && typeof entry === 'object' && 'value' in entry ? entry.value : entry;
}

function hubLink(metadata) {
  const page = webAddress(value(metadata, 'page_url'));
  if (page) return h('p', {}, h('a', { href: page, rel: 'noopener noreferrer', target: '_blank' }, 'Open on the hub'));
  const modelId = value(metadata, 'civitai_model_id');
  if (modelId == null) return null;
  const versionId = value(metadata, 'civitai_version_id');
  const url = `https://civitai.com/models/${encodeURIComponent(modelId)}` +
    (versionId != null ? `?modelVersionId=${encodeURIComponent(versionId)}` : '');
  return h('p', {}, h('a', { href: url, rel: 'noopener noreferrer', target: '_blank' }, 'Open on Civitai'));
}

function triggerWords(words, name) {
  if (!Array.isArray(words) || !words.length) return null;
  return h('section', { 'aria-labelledby': 'trigger-words' },
    h('h3', { id: 'trigger-words' }, 'Trigger words'),
    h('ul', { class: 'words' }, words.map((word) => h('li', {}, h('code', {}, word),
      copyButton(word, `Copy the trigger word ${word}`, `“${word}”`)))),
    copyButton(words.join(', '), `Copy all trigger words of ${name}`, 'all trigger words'));
}

function shown(fieldValue) {
  return fieldValue !== null && typeof fieldValue === 'object' ? JSON.stringify(fieldValue) : String(fieldValue);
}

function metadataTable(metadata) {
  const rows = Object.keys(metadata).filter((field) => !NOT_IN_TABLE.has(field)).map((field) => h('tr', {},
    h('th', { scope: 'row' }, FIELDS[field] || field),
    h('td', {}, shown(value(metadata, field))),
    h('td', {}, SOURCES[metadata[field]?.source] || metadata[field]?.source || '')));
  if (!rows.length) return h('p', {}, 'Nothing known about this model yet.');
  return h('table', {}, h('caption', {}, 'Metadata'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Field'), h('th', { scope: 'col' }, 'Value'),
      h('th', { scope: 'col' }, 'Source'))),
    h('tbody', {}, rows));
}

function filesTable(files) {
  return h('table', {}, h('caption', {}, files.length === 1 ? 'File' : `${files.length} files with this content`),
    h('thead', {}, h('tr', {}, ['Path', 'Size', 'Modified', 'Catalogued'].map(
      (title) => h('th', { scope: 'col' }, title)))),
    h('tbody', {}, files.map((file) => h('tr', {},
      h('td', { class: 'path' }, file.path), h('td', {}, size(file.size)),
      h('td', {}, dateFromNs(file.mtime_ns)), h('td', {}, date(file.created_at))))));
}

export async function showModel(section, sha256) {
  const body = section.querySelector('.body');
  const heading = section.querySelector('h2');
  heading.textContent = 'Model';
  clear(body, h('p', {}, 'Loading…'));
  let model;
  try {
    model = await getJson(`/api/models/${encodeURIComponent(sha256)}`);
  } catch (err) {
    clear(body, h('p', { class: 'problem' }, err.message));
    return;
  }
  const metadata = model.metadata || {};
  const first = model.files.find((file) => file.image_url) || model.files[0];
  const name = value(metadata, 'model_name') || modelName(first);
  heading.textContent = name;
  clear(body,
    h('div', { class: 'large-preview' }, preview(first.image_url, undefined, true)),
    h('div', { class: 'about' },
      h('p', { class: 'hash' }, 'SHA-256 ', h('code', { title: model.sha256 }, shortHash(model.sha256)), ' ',
        copyButton(model.sha256, `Copy the full SHA-256 of ${name}`, `the SHA-256 of ${name}`)),
      hubLink(metadata),
      triggerWords(value(metadata, 'trained_words') || value(metadata, 'trigger_words'), name),
      metadataTable(metadata),
      hubSection(model)),
    h('div', { class: 'files' }, filesTable(model.files)));
}
