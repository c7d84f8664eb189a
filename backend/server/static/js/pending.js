// Pending files: found on disk, not hashed yet; hash one with live bytes, or start whole-library jobs.
import { modelLink } from './card.js';
import { clear, h, preview } from './dom.js';
import { count, date, fileName, shortHash, size } from './format.js';
import { runWithProgress, startJob } from './jobs.js';
import { attempt, showNews } from './notices.js';
import { offsetList } from './paging.js';
import { progressView } from './progress.js';
import { sentence } from './words.js';

export function setupPending(section, { hashed }) {
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
    view.removed();
    showNews(`${item.name} is in the library as `, h('a', { href: modelLink(answer.sha256) }, shortHash(answer.sha256)),
      '.');
    hashed();
  };

  const pendingRow = (item) => {
    const row = h('li', { class: 'pending-item', 'data-path': item.path },
      preview(item.image_url),
      h('div', { class: 'about' },
        h('h3', {}, item.name || fileName(item.path)),
        h('p', { class: 'path' }, item.path),
        h('p', {}, `Found ${date(item.discovered_at)}`, item.size == null ? '' : ` · ${size(item.size)}`),
        item.last_error ? h('p', { class: 'problem' }, 'Last attempt failed: ', sentence(item.last_error)) : null,
        h('div', { class: 'progress' })),
      h('button', { type: 'button', class: 'hash-one', 'aria-label': `Hash this one: ${item.name}` }, 'Hash this one'));
    row.querySelector('.hash-one').addEventListener('click', () => hashOne(item, row));
    return row;
  };

  const view = offsetList(section, {
    path: '/api/models/pending',
    items: (page) => page.items,
    total: (page) => page.total,
    row: pendingRow,
    describe: ({ total }) => (total ? `${count(total, 'file')} waiting to be hashed.` : 'Nothing is pending.'),
  });

  const run = (kind) => {
    location.hash = '#/jobs';
    return attempt(() => startJob(kind));
  };
  section.querySelector('.scan').addEventListener('click', () => run('scan'));
  section.querySelector('.hash-all').addEventListener('click', () => run('hash'));
  section.querySelector('.import').addEventListener('click', () => run('import'));
  return view;
}
