// Duplicates: groups of files that share one hash, and the space the extra copies take.
import { getJson, query } from './api.js';
import { modelLink } from './card.js';
import { clear, h, preview } from './dom.js';
import { count, modelName, shortHash, size } from './format.js';

const PAGE = 50;

function group(entry) {
  const name = modelName(entry.files[0]);
  return h('li', { class: 'group' },
    preview(entry.files[0].image_url, name),
    h('div', { class: 'about' },
      h('h3', {}, h('a', { href: modelLink(entry.sha256) }, name)),
      h('p', {}, `${count(entry.count, 'copy', 'copies')} of ${size(entry.size)} · `,
        h('strong', {}, `${size(entry.wasted_bytes)} could be freed`), ' · ', h('code', {}, shortHash(entry.sha256))),
      h('ul', { class: 'paths' }, entry.files.map((file) => h('li', { class: 'path' }, file.path)))));
}

export function setupDuplicates(section) {
  const list = section.querySelector('.groups');
  const status = section.querySelector('.status');
  const more = section.querySelector('.more');
  const state = { offset: 0, total: 0, failed: false };

  const loadPage = async () => {
    try {
      const page = await getJson(`/api/models/duplicates?${query({ limit: PAGE, offset: state.offset })}`);
      list.append(...page.groups.map(group));
      state.offset += page.groups.length;
      state.total = page.total_groups;
      state.failed = false;
      status.textContent = state.total
        ? `${count(state.total, 'model')} stored more than once; ${size(page.wasted_bytes)} could be freed.`
        : 'No duplicates: every file has different content.';
      more.hidden = state.offset >= state.total;
    } catch (err) {
      state.failed = true;
      status.textContent = err.message;
    }
  };

  const reload = () => {
    Object.assign(state, { offset: 0, total: 0 });
    clear(list);
    return loadPage();
  };
  more.addEventListener('click', loadPage);
  return { reload, reloadIfFailed: () => (state.failed ? reload() : undefined) };
}
