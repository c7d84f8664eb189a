// The library grid: search, sort and filters sent to the API, pages fetched as the person scrolls.
import { getJson, query } from './api.js';
import { modelCard } from './card.js';
import { clear, h } from './dom.js';
import { count, folderOf } from './format.js';
import { showError } from './notices.js';

const PAGE = 60;

export function setupLibrary(section) {
  const form = section.querySelector('form');
  const grid = section.querySelector('.grid');
  const status = section.querySelector('.status');
  const more = section.querySelector('.more');
  const folders = section.querySelector('#folders');
  const seenFolders = new Set();
  const state = { generation: 0, next: null, loaded: 0, total: 0, loading: false, failed: false };

  const filters = () => {
    const data = new FormData(form);
    const [sort, order] = String(data.get('sort')).split(':');
    return { q: data.get('q').trim(), sort, order, folder: data.get('folder').trim(), type: data.get('type') };
  };

  const showStatus = () => {
    status.textContent = state.total === 0 ? 'No models match.' : `Showing ${count(state.loaded, 'model')}` +
      ` of ${state.total.toLocaleString()}.`;
    more.hidden = state.next === null;
  };

  const loadPage = async () => {
    if (state.loading || state.next === null) return;
    state.loading = true;
    const generation = state.generation;
    const params = { ...filters(), limit: PAGE, ...state.next };
    try {
      const page = await getJson(`/api/models?${query(params)}`);
      if (generation !== state.generation) return;
      grid.append(...page.items.map(modelCard));
      page.items.forEach((model) => seenFolders.add(folderOf(model)));
      clear(folders, [...seenFolders].sort().slice(0, 200).map((f) => h('option', { value: f })));
      state.loaded += page.items.length;
      state.total = page.total;
      state.failed = false;
      state.next = nextPage(page);
      showStatus();
      if (generation === 1) markPainted();
      // A tall screen may still show the end of the grid: fill it without waiting for a scroll.
      if (state.next && more.getBoundingClientRect().top < innerHeight + 800) setTimeout(loadPage);
    } catch (err) {
      state.failed = true;
      status.textContent = 'The library could not be loaded.';
      showError(err.message);
    } finally {
      state.loading = false;
    }
  };

  const reload = () => {
    state.generation += 1;
    Object.assign(state, { next: {}, loaded: 0, total: 0, loading: false });
    clear(grid);
    status.textContent = 'Loading…';
    return loadPage();
  };

  let typing;
  form.addEventListener('input', (event) => {
    clearTimeout(typing);
    typing = setTimeout(reload, event.target.type === 'search' ? 250 : 0);
  });
  form.addEventListener('submit', (event) => { event.preventDefault(); reload(); });
  more.addEventListener('click', loadPage);
  // The next page comes before the person reaches the end, so scrolling does not stop.
  new IntersectionObserver((seen) => { if (seen.some((e) => e.isIntersecting)) loadPage(); },
    { rootMargin: '800px' }).observe(more);
  return { reload, reloadIfFailed: () => (state.failed ? reload() : undefined) };
}

// Keyset paging where the API offers it (a cursor), else offsets.
function nextPage(page) {
  if ('next_cursor' in page) return page.next_cursor ? { cursor: page.next_cursor } : null;
  const offset = page.offset + page.items.length;
  return page.items.length && offset < page.total ? { offset } : null;
}

// For the benchmark and the curious: when the first page of the library was on screen.
function markPainted() {
  requestAnimationFrame(() => setTimeout(() => performance.mark('library-painted')));
}
