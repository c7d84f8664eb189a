// Duplicates: groups of files that share one hash, and the space the extra copies take.
import { modelLink } from './card.js';
import { h, preview } from './dom.js';
import { count, modelName, shortHash, size } from './format.js';
import { offsetList } from './paging.js';

function group(entry) {
  const name = modelName(entry.files[0]);
  return h('li', { class: 'group' },
    preview(entry.files[0].image_url),
    h('div', { class: 'about' },
      h('h3', {}, h('a', { href: modelLink(entry.sha256) }, name)),
      h('p', {}, `${count(entry.count, 'copy', 'copies')} of ${size(entry.size)} · `,
        h('strong', {}, `${size(entry.wasted_bytes)} could be freed`), ' · ', h('code', {}, shortHash(entry.sha256))),
      h('ul', { class: 'paths' }, entry.files.map((file) => h('li', { class: 'path' }, file.path)))));
}

export function setupDuplicates(section) {
  return offsetList(section, {
    path: '/api/models/duplicates',
    items: (page) => page.groups,
    total: (page) => page.total_groups,
    row: group,
    describe: ({ total, page }) => (total
      ? `${count(total, 'model')} stored more than once; ${size(page.wasted_bytes)} could be freed.`
      : 'No duplicates: every file has different content.'),
  });
}
