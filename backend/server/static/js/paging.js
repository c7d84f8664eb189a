// A list fetched page by page (offset), with a status line and a "Show more" button.
import { getJson, query } from './api.js';
import { clear } from './dom.js';

const PAGE = 50;

export function offsetList(section, { path, items, total, row, describe }) {
  const list = section.querySelector('ul');
  const status = section.querySelector('.status');
  const more = section.querySelector('.more');
  const state = { offset: 0, total: 0, failed: false, page: null, generation: 0 };

  const showStatus = () => {
    status.textContent = describe(state);
    more.hidden = state.offset >= state.total;
  };

  const loadPage = async () => {
    const { generation } = state;
    try {
      const page = await getJson(`${path}?${query({ limit: PAGE, offset: state.offset })}`);
      if (generation !== state.generation) return; // a reload began meanwhile: its answer counts, not this one
      list.append(...items(page).map(row));
      Object.assign(state, { offset: state.offset + items(page).length, total: total(page), failed: false, page });
      showStatus();
    } catch (err) {
      state.failed = true;
      status.textContent = err.message;
    }
  };

  const reload = () => {
    Object.assign(state, { offset: 0, total: 0, generation: state.generation + 1 });
    clear(list);
    return loadPage();
  };
  more.addEventListener('click', loadPage);
  return {
    reload,
    reloadIfFailed: () => (state.failed ? reload() : undefined),
    removed: () => { state.total -= 1; state.offset -= 1; showStatus(); },
  };
}
