// The library grid: search, filters, folder tree and sort sent to the API and kept in the address, pages
// fetched as the person scrolls, and the scroll position given back when they come back.
import { DEFAULTS, readView, rememberScroll, rememberedScroll, sameView, showView } from './address.js';
import { getJson, query } from './api.js';
import { blurSetting } from './blur.js';
import { modelCard } from './card.js';
import { clear, h } from './dom.js';
import { count, typeLabel } from './format.js';
import { folderTree } from './folders.js';
import { showError } from './notices.js';

const PAGE = 60;

function options(select, values, any, label, chosen) {
  const known = values.map((option) => option.value);
  // A value from the address before the counts arrive (or one no model has any more) is still shown as chosen.
  const extra = chosen && !known.includes(chosen) ? [{ value: chosen, count: null }] : [];
  clear(select, h('option', { value: '' }, any), [...values, ...extra].map((option) => h('option',
    { value: option.value },
    option.count == null ? label(option.value) : `${label(option.value)} (${option.count.toLocaleString()})`)));
  select.value = chosen || '';
}

export function setupLibrary(section) {
  const form = section.querySelector('form');
  const grid = section.querySelector('.grid');
  const status = section.querySelector('.status');
  const more = section.querySelector('.more');
  const empty = section.querySelector('.empty-library');
  const state = { generation: 0, next: null, loaded: 0, total: 0, exact: true, loading: null, failed: false, problem: null };
  let view = readView();
  let facets = null;
  const tree = folderTree(section.querySelector('.tree'), { pick: (folder) => change({ folder }) });
  blurSetting(form.elements.blur_above);

  const fillForm = () => {
    form.elements.q.value = view.q;
    form.elements.sort.value = view.sort;
    form.elements.favourite.checked = view.favourite === '1';
    if (!form.elements.sort.value) form.elements.sort.value = DEFAULTS.sort;
    options(form.elements.model_type, facets ? facets.model_types : [], 'Any type', typeLabel, view.model_type);
    options(form.elements.base_model, facets ? facets.base_models : [], 'Any base model',
      (name) => (name === 'unknown' ? 'Unknown' : name), view.base_model);
    tree.select(view.folder);
  };

  const filtered = () => ['q', 'model_type', 'base_model', 'favourite', 'folder'].some((key) => view[key]);

  const showStatus = () => {
    const nothing = state.total === 0 && !filtered();
    empty.hidden = !nothing;
    if (nothing) describeEmpty();
    status.textContent = state.total === 0 ? (nothing ? 'No models yet.' : 'No models match.')
      : `Showing ${count(state.loaded, 'model')} of ${state.total.toLocaleString()}${state.exact ? '' : '+'}.`;
    more.hidden = state.next === null;
  };

  // A new library says where it looks for models and how to point it at yours.
  const describeEmpty = () => {
    const roots = facets ? facets.roots : [];
    clear(empty.querySelector('.roots'), roots.map((root) => h('li', {}, h('code', {}, root))));
  };

  // One page at a time: a second call while one loads waits for it.
  const loadPage = () => {
    if (state.next === null) return Promise.resolve();
    if (!state.loading) {
      const loading = fetchPage().finally(() => { if (state.loading === loading) state.loading = null; });
      state.loading = loading;
    }
    return state.loading;
  };

  const fetchPage = async () => {
    const { generation } = state;
    const [sort, order] = view.sort.split(':');
    const params = { q: view.q.trim(), model_type: view.model_type, base_model: view.base_model,
      favourite: view.favourite === '1' ? 'true' : '', folder: view.folder, sort, order, limit: PAGE, ...state.next };
    try {
      const page = await getJson(`/api/models?${query(params)}`);
      if (generation !== state.generation) return;
      grid.append(...page.items.map(modelCard));
      Object.assign(state, { loaded: state.loaded + page.items.length, total: page.total, exact: page.total_exact,
        failed: false });
      state.next = page.next_cursor ? { cursor: page.next_cursor } : null;
      if (state.problem) { state.problem.remove(); state.problem = null; }
      showStatus();
      if (generation === 1) markPainted();
      // A tall screen may still show the end of the grid: fill it without waiting for a scroll.
      if (state.next && more.getBoundingClientRect().top < innerHeight + 800) setTimeout(loadPage);
    } catch (err) {
      if (generation !== state.generation) return;
      state.failed = true;
      status.textContent = 'The library could not be loaded.';
      if (state.problem) state.problem.remove();
      state.problem = showError(err.message);
    }
  };

  const loadFacets = async () => {
    try {
      facets = await getJson('/api/models/facets');
      tree.show(facets);
      fillForm();
      if (!empty.hidden) describeEmpty();
    } catch (err) {
      // The grid says the library could not be loaded; the filters keep what they offered.
    }
  };

  // Pages until the remembered position is on the page (or the library ends), then there.
  const restoreScroll = async (target) => {
    while (document.documentElement.scrollHeight < target + innerHeight && state.next !== null && !state.failed) {
      const before = state.loaded;
      await loadPage();
      if (state.loaded === before) break;
    }
    scrollTo(0, target);
  };

  const reload = async ({ scroll = 0 } = {}) => {
    state.generation += 1;
    Object.assign(state, { next: {}, loaded: 0, total: 0, loading: null });
    clear(grid);
    status.textContent = 'Loading…';
    const facetsLoaded = loadFacets();
    await loadPage();
    if (scroll) await restoreScroll(scroll);
    await facetsLoaded;
  };

  const change = (changes) => {
    view = { ...view, ...changes };
    showView(view);
    fillForm();
    scrollTo(0, 0);
    reload();
  };

  let typing;
  form.addEventListener('input', (event) => {
    clearTimeout(typing);
    const { name } = event.target;
    if (!(name in DEFAULTS)) return;
    const value = event.target.type === 'checkbox' ? (event.target.checked ? '1' : '') : event.target.value;
    typing = setTimeout(() => change({ [name]: value }), event.target.type === 'search' ? 250 : 0);
  });
  form.addEventListener('submit', (event) => { event.preventDefault(); change({ q: form.elements.q.value }); });
  more.addEventListener('click', loadPage);
  // The next page comes before the person reaches the end, so scrolling does not stop.
  new IntersectionObserver((seen) => { if (seen.some((entry) => entry.isIntersecting)) loadPage(); },
    { rootMargin: '800px' }).observe(more);
  let settling;
  addEventListener('scroll', () => {
    if (section.hidden) return;
    clearTimeout(settling);
    settling = setTimeout(rememberScroll, 100);
  }, { passive: true });
  history.scrollRestoration = 'manual';
  // On a phone the tree would push the grid below the fold: it starts folded there.
  if (matchMedia('(max-width: 640px)').matches) section.querySelector('details.folders').open = false;
  fillForm();

  return {
    // The first load: the view and the scroll position the address and its history entry hold.
    start: () => reload({ scroll: rememberedScroll() }),
    reload: () => reload(),
    reloadIfFailed: () => (state.failed ? reload() : undefined),
    // Shown again (Back from a model, a link): the same view keeps its grid and its place; another one loads.
    shown: () => {
      const wanted = readView();
      if (!sameView(wanted, view)) {
        view = wanted;
        fillForm();
        return reload({ scroll: rememberedScroll() });
      }
      return restoreScroll(rememberedScroll());
    },
  };
}

// For the benchmark and the curious: when the first page of the library was on screen.
function markPainted() {
  requestAnimationFrame(() => setTimeout(() => performance.mark('library-painted')));
}
