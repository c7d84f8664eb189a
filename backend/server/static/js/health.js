// The banner that names a part that is down, in words, and goes away by itself when it is back.
import { request } from './api.js';
import { serviceName } from './words.js';

const EVERY_MS = 4000;
// Asked every second while a part is down, so the banner leaves within about a second of its return.
const WHILE_DOWN_MS = 1000;
const CONSEQUENCES = {
  database: 'nothing can be listed or saved',
  hasher: 'files cannot be hashed or scanned',
  images: 'new previews cannot be made',
};

function listed(names) {
  return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

export function describe(down) {
  if (down === null) return 'ModelVault is not answering. Is it still running? This page keeps trying.';
  const names = listed(down.map(serviceName));
  const verb = down.length === 1 ? 'is' : 'are';
  const effects = listed(down.map((part) => CONSEQUENCES[part] || `${serviceName(part)} cannot be used`));
  return `${names[0].toUpperCase()}${names.slice(1)} ${verb} not available: ${effects} until then. ` +
    'This message goes away by itself when it is back.';
}

// The parts that are down ([] when all is well), or null when the gateway itself does not answer.
async function downParts() {
  try {
    const reply = await request('GET', '/api/health');
    const answer = await reply.json().catch(() => ({}));
    if (reply.ok) return [];
    const parts = Object.keys(answer).filter((key) => key !== 'status' && answer[key] !== 'ok');
    return parts.length ? parts : null;
  } catch {
    return null;
  }
}

export function watchHealth(banner, onRecovered) {
  let wasDown = false;
  const check = async () => {
    const down = await downParts();
    const isDown = down === null || down.length > 0;
    banner.hidden = !isDown;
    if (isDown) banner.querySelector('p').textContent = describe(down);
    if (wasDown && !isDown) onRecovered();
    wasDown = isDown;
    setTimeout(check, isDown ? WHILE_DOWN_MS : EVERY_MS);
  };
  check();
}
