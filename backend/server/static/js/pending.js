// Pending files: found on disk, not hashed yet; hash one with live bytes, or start whole-library jobs.
import { getJson, query } from './api.js';
import { modelLink } from './card.js';
import { clear, h, preview } from './dom.js';
import { count, date, fileName, shortHash } from './format.js';
import { runWithProgress, startJob } from './jobs.js';
import { attempt, showNews } from './notices.js';
import { progressView } from './progress.js';
import { sentence } from './words.js';

const PAGE = 50;

export function setupPending(section, { hashed, importAvailable }) {
  const list = section.querySelector('.pending');
  const status = section.querySelector('.status');
  const more = section.querySelector('.more');
  const state = { offset: 0, total: 0, failed: false };

  const hashOne = async (item, row) => {
    const button = row.querySelector('.hash-one');
    const area = row.querySelector('.progress');
    button.disabled = true;
    const draw = (job, cancel) => clear(area, progressView(job, `Hashing ${item.name}`),
      job.state === 'running' ? h('button', { type: 'button', onclick: cancel }, 'Cancel') : null);
    const answer = await attempt(() => runWithProgress('file', '/api/models/sha256', { path: item.path }, draw));
    button.disabled = false;
    if (!answer) return;
    row.remove();
    state.total -= 1;
    showStatus();
    showNews(`${item.name} is in the library as `, h('a', { href: modelLink(answer.sha256) }, shortHash(answer.sha256)),
      '.');
    hashed();
  };

  const pendingRow = (item) => {
    const row = h('li', { class: 'pending-item', 'data-path': item.path },
      preview(item.image_url, item.name),
      h('div', { class: 'about' },
        h('h3', {}, item.name || fileName(item.path)),
        h('p', { class: 'path' }, item.path),
        h('p', {}, `Found ${date(item.discovered_at)}`),
        item.last_error ? h('p', { class: 'problem' }, 'Last attempt failed: ', sentence(item.last_error)) : null,
        h('div', { class: 'progress' })),
      h('button', { type: 'button', class: 'hash-one', 'aria-label': `Hash ${item.name} now` }, 'Hash this one'));
    row.querySelector('.hash-one').addEventListener('click', () => hashOne(item, row));
    return row;
  };

  const showStatus = () => {
    status.textContent = state.total ? `${count(state.total, 'file')} waiting to be hashed.` : 'Nothing is pending.';
    more.hidden = state.offset >= state.total;
  };

  const loadPage = async () => {
    try {
      const page = await getJson(`/api/models/pending?${query({ limit: PAGE, offset: state.offset })}`);
      list.append(...page.items.map(pendingRow));
      state.offset += page.items.length;
      state.total = page.total;
      state.failed = false;
      showStatus();
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

  const run = (kind) => {
    location.hash = '#/jobs';
    return attempt(() => startJob(kind));
  };
  section.querySelector('.scan').addEventListener('click', () => run('scan'));
  section.querySelector('.hash-all').addEventListener('click', () => run('hash'));
  const importButton = section.querySelector('.import');
  importButton.hidden = !importAvailable;
  importButton.addEventListener('click', () => run('import'));
  more.addEventListener('click', loadPage);
  return { reload, reloadIfFailed: () => (state.failed ? reload() : undefined) };
}
