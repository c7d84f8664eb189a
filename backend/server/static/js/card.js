// One model in the grid: preview (or its type in words), the model's name with the file's under it, the folder
// relative to its root, a type badge, base model, size, and the short hash with a copy button, in rows that line
// up from card to card.
import { rated } from './blur.js';
import { copyButton } from './copy.js';
import { h, preview } from './dom.js';
import { displayName, fileName, folderOf, shortFolder, shortHash, size, typeLabel } from './format.js';

export function modelLink(sha256) {
  return `#/model/${sha256}`;
}

// A changed file (replaced or rewritten, queued to be hashed again) has no hash to show or copy: its record's
// hash is only the previous one, and its page is found under that one until the new hash is known.
function hashLine(model, name) {
  if (model.state === 'changed') {
    return h('p', { class: 'hash changed', title: `previous SHA-256 ${model.previous_sha256}` },
      'Changed: being hashed again');
  }
  return h('p', { class: 'hash' },
    h('code', { title: model.sha256 }, shortHash(model.sha256)),
    copyButton(model.sha256, `Copy the full SHA-256 of ${name}`, `the SHA-256 of ${name}`));
}

// The smallest hook for the stream of changes: an open card shows its content's new preview (or none).
export function showPreview(sha256, url) {
  document.querySelectorAll(`.card[data-sha256="${CSS.escape(sha256)}"]`).forEach((card) => {
    const thumb = card.querySelector('.thumb');
    thumb.replaceChildren(preview(url, card.querySelector('h3').textContent));
  });
}

export function modelCard(model) {
  const name = displayName(model);
  const type = typeLabel(model.model_type);
  const folder = folderOf(model);
  const key = model.sha256 || model.previous_sha256;
  const file = fileName(model.path);
  return h('li', { class: 'card', 'data-sha256': key },
    rated(h('a', { href: modelLink(key), class: 'thumb', tabindex: '-1', 'aria-hidden': 'true' },
      preview(model.image_url, type)), model.metadata && model.metadata.nsfw_level),
    h('h3', { title: name }, h('a', { href: modelLink(key) }, name),
      model.metadata && model.metadata.favourite === true
        ? h('span', { class: 'star', title: 'A favourite' }, ' ★', h('span', { class: 'unseen' }, ' (a favourite)'))
        : null),
    h('p', { class: 'file', title: model.path }, file),
    h('p', { class: 'folder', title: folder }, shortFolder(folder, model.root)),
    h('p', { class: 'facts' },
      h('span', { class: `badge type-${model.model_type || 'unknown'}` }, type),
      h('span', { class: 'base', title: model.base_model || null }, model.base_model || 'Base model unknown')),
    h('p', { class: 'size' }, size(model.size)),
    hashLine(model, name));
}
