// One model in the grid: preview, name, folder, size, base model and the short hash with a copy button.
import { copyButton } from './copy.js';
import { h, preview } from './dom.js';
import { folderOf, modelName, shortFolder, shortHash, size } from './format.js';

export function modelLink(sha256) {
  return `#/model/${sha256}`;
}

export function modelCard(model) {
  const name = modelName(model);
  const base = model.metadata && model.metadata.base_model;
  const folder = folderOf(model);
  return h('li', { class: 'card', 'data-sha256': model.sha256 },
    h('a', { href: modelLink(model.sha256), class: 'thumb', tabindex: '-1', 'aria-hidden': 'true' },
      preview(model.image_url, name)),
    h('h3', {}, h('a', { href: modelLink(model.sha256) }, name)),
    h('p', { class: 'folder', title: folder }, shortFolder(folder)),
    h('p', { class: 'facts' }, size(model.size), base ? ` · ${base}` : ''),
    h('p', { class: 'hash' },
      h('code', { title: model.sha256 }, shortHash(model.sha256)),
      copyButton(model.sha256, `Copy the full SHA-256 of ${name}`, `the SHA-256 of ${name}`)));
}
