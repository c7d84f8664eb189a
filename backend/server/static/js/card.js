// One model in the grid: preview, name, folder, size, base model and the short hash with a copy button.
import { copyButton } from './copy.js';
import { h, preview } from './dom.js';
import { folderOf, modelName, shortFolder, shortHash, size } from './format.js';

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
  const name = modelName(model);
  const base = model.metadata && model.metadata.base_model;
  const folder = folderOf(model);
  const key = model.sha256 || model.previous_sha256;
  return h('li', { class: 'card', 'data-sha256': key },
    h('a', { href: modelLink(key), class: 'thumb', tabindex: '-1', 'aria-hidden': 'true' },
      preview(model.image_url, name)),
    h('h3', {}, h('a', { href: modelLink(key) }, name)),
    h('p', { class: 'folder', title: folder }, shortFolder(folder)),
    h('p', { class: 'facts' }, size(model.size), base ? ` · ${base}` : ''),
    hashLine(model, name));
}
