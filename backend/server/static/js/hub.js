// What the hub said of one model and when, and a button that asks it again, saying exactly what is sent.
import { h } from './dom.js';
import { date } from './format.js';
import { startJob } from './jobs.js';
import { attempt } from './notices.js';

const STATES = {
  found: 'Found on the hub', not_found: 'Not on the hub', failed: 'The last look-up failed',
  unchecked: 'Not looked up on the hub yet',
};

// Only a web address becomes a link: nothing the hub sent may run in the page (no javascript: URL).
export function webAddress(url) {
  return typeof url === 'string' && /^https?:\/\//i.test(url) ? url : null;
}

export function hubSection(model) {
  const hub = model.hub || { state: 'unchecked' };
  const page = hub.state === 'found' ? webAddress(hub.url) : null;
  return h('section', { class: 'hub', 'aria-labelledby': 'hub-heading' },
    h('h3', { id: 'hub-heading' }, 'Hub'),
    h('p', { class: 'hub-state' }, STATES[hub.state] || hub.state,
      hub.checked_at ? ` (checked ${date(hub.checked_at)})` : '',
      page ? ['. ', h('a', { href: page, rel: 'noopener noreferrer', target: '_blank' }, 'Open its page')] : null),
    h('button', {
      type: 'button', 'aria-describedby': 'hub-sends',
      onclick: () => attempt(() => startJob('hub', { sha256: model.sha256 })),
    }, 'Look up on the hub'),
    h('p', { class: 'hint', id: 'hub-sends' },
      'Sends this model’s SHA-256 to the hub the server is set up with, and nothing else: ',
      'no file name, no path, no other data.'));
}
