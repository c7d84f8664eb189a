// The page: views chosen by the address (#/library, #/model/<sha256>, #/pending, #/jobs, #/duplicates).
// Only the library is on the way to the first paint; the other views' modules load beside its first page.
import { addressOf, pointLinksAt, readView } from './address.js';
import { getJson } from './api.js';
import { setupLibrary } from './library.js';
import { setupLogin } from './login.js';
import { attempt } from './notices.js';

const $ = (selector) => document.querySelector(selector);
const TITLES = { library: 'Library', model: 'Model', pending: 'Pending', jobs: 'Jobs', duplicates: 'Duplicates' };
// The address the page was opened at: a link followed before the views were ready still moves focus.
const ARRIVAL = location.hash;

async function main() {
  setupLogin($('#login'));
  const library = setupLibrary($('#library'));
  const firstPage = library.start();
  const [{ showModel }, { setupDuplicates }, { watchHealth }, { loadRecentJobs, setupJobs, showJob }, { setupPending },
    { followChanges }, { showPreview }] = await Promise.all(
    ['./detail.js', './duplicates.js', './health.js', './jobs.js', './pending.js', './changes.js', './card.js'].map(
      (name) => import(name)));
  // The page ships inside its gateway: every route it uses is there, so it routes without asking.
  const stale = new Set();
  const pending = setupPending($('#pending'), { hashed: () => stale.add(library) });
  const duplicates = setupDuplicates($('#duplicates'));
  setupJobs($('#jobs'), {
    finished: (job) => {
      [library, pending, duplicates].forEach((view) => stale.add(view));
      // The model view asked the hub about its model: show what it said.
      const [, shown] = location.hash.match(/^#\/model\/(.+)/) || [];
      if (job.kind === 'hub' && shown) showModel($('#model'), shown);
    },
  });
  const views = { library, pending, duplicates };

  let first = true;
  const route = async () => {
    const [, name = 'library', argument] = location.hash.match(/^#\/(\w+)(?:\/(.+))?/) || [];
    const view = TITLES[name] ? name : 'library';
    document.querySelectorAll('main > section').forEach((section) => { section.hidden = section.id !== view; });
    document.querySelectorAll('nav a').forEach((link) => {
      if (link.dataset.view === view) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    });
    document.title = `${TITLES[view]} · ModelVault`;
    if (view === 'library') pointLinksAt(addressOf(readView()));
    if (stale.delete(views[view])) views[view].reload();
    else if (view === 'library' && !first) await library.shown();
    if (view === 'jobs' && !first) attempt(loadRecentJobs);
    if (view === 'model') await showModel($('#model'), argument);
    // Moving focus tells a screen reader the view changed; on arrival, focus stays at the top of the page.
    if (!first || location.hash !== ARRIVAL) {
      // The library keeps the place it gives back; another view starts at its top.
      $(`#${view} h2`).focus({ preventScroll: view === 'library' });
    }
    first = false;
  };
  window.addEventListener('hashchange', route);
  stale.add(pending).add(duplicates);
  const visible = (view) => !document.getElementById(view).hidden;
  followChanges({
    job: (change) => attempt(() => showJob(change.id)),
    preview: async (change) => {
      const url = change.image_key ? (await getJson(`/api/models/${change.sha256}`)).files
        .map((file) => file.image_url).find(Boolean) : null;
      showPreview(change.sha256, url || null);
    },
    // The library as it is now, while it is in view and at its top; otherwise when it is opened next.
    models: () => {
      [pending, duplicates].forEach((view) => stale.add(view));
      if (visible('library') && window.scrollY < 200) library.reload(); else stale.add(library);
    },
  });
  await Promise.all([firstPage, route(), attempt(loadRecentJobs)]);
  watchHealth($('#health'), () => Object.values(views).forEach((view) => view.reloadIfFailed()));
}

main();
