// The library's view in the address (#/library?q=…&model_type=…&base_model=…&favourite=1&folder=…&sort=…), so Back from a
// model and a shared link open the same view; the scroll position rides in the history entry's state.
export const DEFAULTS = { q: '', model_type: '', base_model: '', favourite: '', folder: '', sort: 'name:asc' };

const OTHER_VIEWS = ['model', 'pending', 'jobs', 'duplicates'];

// The page shows the library for any address that names no other view.
export function isLibraryAddress(hash = location.hash) {
  const [, name] = hash.match(/^#\/(\w+)/) || [];
  return !OTHER_VIEWS.includes(name);
}

export function readView(hash = location.hash) {
  const [, search = ''] = hash.match(/^#\/library\?(.*)$/) || [];
  const params = new URLSearchParams(search);
  const view = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS)) {
    if (params.has(key)) view[key] = params.get(key);
  }
  return view;
}

export function addressOf(view) {
  const params = new URLSearchParams();
  for (const [key, fallback] of Object.entries(DEFAULTS)) {
    if (view[key] && view[key] !== fallback) params.set(key, view[key]);
  }
  const search = params.toString();
  return search ? `#/library?${search}` : '#/library';
}

export function sameView(one, other) {
  return Object.keys(DEFAULTS).every((key) => (one[key] || DEFAULTS[key]) === (other[key] || DEFAULTS[key]));
}

// The ways back to the library (the menu, the model view's link) lead to the view it shows.
export function pointLinksAt(address) {
  document.querySelectorAll('#model a.back, nav a[data-view="library"]').forEach((link) => { link.href = address; });
}

// A new view of the library replaces the address, so Back leaves the library rather than undoing each keystroke.
export function showView(view) {
  const address = addressOf(view);
  if (location.hash !== address) history.replaceState({ ...(history.state || {}), scrollY: 0 }, '', address);
  pointLinksAt(address);
}

export function rememberScroll() {
  if (isLibraryAddress()) history.replaceState({ ...(history.state || {}), scrollY: Math.round(scrollY) }, '');
}

export function rememberedScroll() {
  return (history.state && history.state.scrollY) || 0;
}
