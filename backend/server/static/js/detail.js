// One model: its preview large, its hashes, every file with that content, metadata with the source of each field.
import { getJson } from './api.js';
import { rated } from './blur.js';
import { copyButton } from './copy.js';
import { clear, h, preview } from './dom.js';
import { date, dateFromNs, fileName, modelName, shortHash, size } from './format.js';
import { hubSection, webAddress } from './hub.js';
import { hubPictures } from './hub-pictures.js';
import { personalSection } from './personal.js';
import { ownPreview } from './own-preview.js';

const FIELDS = {
  model_name: 'Model', version_name: 'Version', model_type: 'Type', base_model: 'Base model',
  trained_words: 'Trigger words', civitai_model_id: 'Civitai model', civitai_version_id: 'Civitai version',
  format: 'Format', architecture: 'Architecture', title: 'Title', quantization: 'Quantization',
  parameter_count: 'Parameters', context_length: 'Context length', size_label: 'Size', header_error: 'Header',
  description: 'Description', nsfw_level: 'NSFW level', page_url: 'Hub page', network: 'Network',
};
// Shown elsewhere (trigger words, the hub's pictures) or too long for a table cell (the header's own key-value pairs).
const NOT_IN_TABLE = new Set(['trained_words', 'trigger_words', 'embedded_metadata', 'training', 'hub_images']);
// kohya's training facts, in the order a person reads them; unknown ones follow under their own name.
const TRAINING = {
  network_module: 'Network', network_dim: 'Dim (rank)', network_alpha: 'Alpha', resolution: 'Resolution',
  num_train_images: 'Training images', epochs: 'Epochs', steps: 'Steps', max_steps: 'Planned steps',
  learning_rate: 'Learning rate', base_model_version: 'Base model version', sd_model_name: 'Trained on',
  output_name: 'Output name', comment: 'Comment',
};
const SOURCES = {
  a1111: 'AUTOMATIC1111', civitai: 'Civitai (the hub)', civitai_helper: 'Civitai Helper', lora_manager: 'LoRA Manager',
  stability_matrix: 'Stability Matrix', safetensors: 'File header', gguf: 'File header', pickle: 'File (pickle)',
  a1111_user_metadata: 'Your notes (web UI)', you: 'You (here)',
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
    copyButton(words.join(', '), `Copy all trigger words of ${name}`, 'all trigger words', 'Copy all'));
}

// Civitai, the file header and the other tools spell a LoRA's type in these ways.
const LORA_TYPES = /^(lora|locon|lycoris|dora)$/i;

// What a person pastes into a prompt of AUTOMATIC1111 or Forge: the file's name (it finds a LoRA by it in any
// folder) and the weight the person recorded in the web UI's own side-car, else 1.
function promptSyntax(metadata, file) {
  if (!LORA_TYPES.test(String(value(metadata, 'model_type') || ''))) return null;
  const weight = Number(value(metadata, 'preferred_weight'));
  const syntax = `<lora:${fileName(file.path).replace(/\.[^.]+$/, '')}:${weight > 0 ? weight : 1}>`;
  return h('p', { class: 'prompt-syntax' }, 'In a prompt ', h('code', {}, syntax), ' ',
    copyButton(syntax, `Copy the prompt syntax ${syntax}`, 'the prompt syntax'));
}

function shown(fieldValue) {
  return fieldValue !== null && typeof fieldValue === 'object' ? JSON.stringify(fieldValue) : String(fieldValue);
}

function metadataTable(metadata) {
  // What the person set here has its own section ("Yours").
  const rows = Object.keys(metadata).filter((field) => !NOT_IN_TABLE.has(field) && metadata[field]?.source !== 'you')
    .map((field) => h('tr', {},
    h('th', { scope: 'row' }, FIELDS[field] || field),
    h('td', {}, shown(value(metadata, field))),
    h('td', {}, SOURCES[metadata[field]?.source] || metadata[field]?.source || '')));
  if (!rows.length) return h('p', {}, 'Nothing known about this model yet.');
  return h('table', {}, h('caption', {}, 'Metadata'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Field'), h('th', { scope: 'col' }, 'Value'),
      h('th', { scope: 'col' }, 'Source'))),
    h('tbody', {}, rows));
}

function trainingSection(metadata) {
  const training = value(metadata, 'training');
  if (!training || typeof training !== 'object') return null;
  const facts = Object.keys(training).filter((fact) => fact !== 'dataset_tags')
    .sort((one, other) => (one in TRAINING ? Object.keys(TRAINING).indexOf(one) : 99) -
      (other in TRAINING ? Object.keys(TRAINING).indexOf(other) : 99));
  const tags = Array.isArray(training.dataset_tags) ? training.dataset_tags : [];
  return h('section', { 'aria-labelledby': 'training' },
    h('h3', { id: 'training' }, 'Training'),
    facts.length ? h('table', {}, h('caption', {}, `How it was trained (${SOURCES[metadata.training?.source] || 'file'})`),
      h('tbody', {}, facts.map((fact) => h('tr', {},
        h('th', { scope: 'row' }, TRAINING[fact] || fact), h('td', {}, shown(training[fact])))))) : null,
    tags.length ? h('table', { class: 'dataset-tags' }, h('caption', {}, 'Most frequent tags in its training images'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Tag'), h('th', { scope: 'col' }, 'Images'))),
      h('tbody', {}, tags.map((tag) => h('tr', {}, h('td', {}, String(tag.tag)), h('td', {}, String(tag.count)))))) : null);
}

function filesTable(files) {
  return h('table', {}, h('caption', {}, files.length === 1 ? 'File' : `${files.length} files with this content`),
    h('thead', {}, h('tr', {}, ['Path', 'Size', 'Modified', 'Catalogued'].map(
      (title) => h('th', { scope: 'col' }, title)))),
    h('tbody', {}, files.map((file) => h('tr', {},
      h('td', { class: 'path' }, file.path), h('td', {}, size(file.size)),
      h('td', {}, dateFromNs(file.mtime_ns)), h('td', {}, date(file.created_at))))));
}

// The hashes people look a model up by, each with a copy button; AutoV1/AutoV3 say why when there is none.
function hashesList(hashes, sha256, name) {
  const known = hashes || { sha256, autov2: shortHash(sha256), short_hashes_computed: false };
  const unknown = 'not known: hashed before ModelVault computed it (hash it again with force to compute it)';
  const rows = [
    ['SHA-256', known.sha256, `Copy the full SHA-256 of ${name}`, ''],
    ['AutoV2', known.autov2, `Copy the AutoV2 hash of ${name}`, ''],
    ['AutoV3', known.autov3, `Copy the AutoV3 hash of ${name}`,
      known.short_hashes_computed ? 'none (not a .safetensors file, or one too large for MODELVAULT_AUTOV3)' : unknown],
    ['AutoV1', known.autov1, `Copy the AutoV1 hash of ${name}`,
      known.short_hashes_computed ? 'none (a file of 1 MiB or less)' : unknown],
  ];
  return h('section', { 'aria-labelledby': 'hashes-heading' },
    h('h3', { id: 'hashes-heading' }, 'Hashes'),
    h('dl', { class: 'hashes' }, rows.flatMap(([label, hash, copyLabel, none]) => [
      h('dt', {}, label),
      h('dd', {}, hash ? [h('code', {}, hash), ' ', copyButton(hash, copyLabel, `the ${label} of ${name}`)]
        : h('span', { class: 'none' }, none)),
    ])));
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
  const large = rated(h('div', { class: 'large-preview' }, preview(first.image_url, undefined, true)),
    value(metadata, 'nsfw_level'));
  // A blurred preview is shown when the person asks, for this visit of the model only.
  if (large.classList.contains('blurred')) {
    large.append(h('button', {
      type: 'button', class: 'reveal', onclick: (event) => { large.classList.remove('blurred'); event.target.remove(); },
    }, 'Show the picture'));
  }
  // After a person's picture is set or removed: the preview as the catalogue now has it.
  const refreshPreview = async () => {
    const fresh = await getJson(`/api/models/${encodeURIComponent(sha256)}`);
    large.replaceChildren(preview(fresh.files.map((file) => file.image_url).find(Boolean), undefined, true));
  };
  const own = ownPreview(model.sha256, name, model.own_preview, refreshPreview);
  const chosen = async () => { await refreshPreview(); own.mine(); };
  clear(body,
    large,
    h('div', { class: 'about' },
      hashesList(model.hashes, model.sha256, name),
      hubLink(metadata),
      personalSection(model.sha256, metadata, name),
      promptSyntax(metadata, first),
      triggerWords(value(metadata, 'trained_words') || value(metadata, 'trigger_words'), name),
      metadataTable(metadata),
      trainingSection(metadata),
      own.section,
      hubSection(model)),
    hubPictures(model.sha256, name, chosen),
    h('div', { class: 'files' }, filesTable(model.files)));
}
