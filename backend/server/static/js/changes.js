// One stream of catalogue changes for the whole page (GET /api/events): jobs that start or end anywhere (this
// page, the command line, the watcher), previews that change, models that come and go. Bursts arrive as one
// "reload" hint, and a reload runs at most every RELOAD_MS, so a busy library is never repainted per file.
const RELOAD_MS = 2000;

export function followChanges({ job, preview, models }) {
  let lastReload = 0;
  let waiting = null;
  const reloadSoon = () => {
    if (waiting) return;
    const wait = Math.max(0, lastReload + RELOAD_MS - Date.now());
    waiting = setTimeout(() => { waiting = null; lastReload = Date.now(); models(); }, wait);
  };
  const events = new EventSource('/api/events');
  events.addEventListener('changes', (message) => {
    const batch = JSON.parse(message.data);
    if (batch.reload) reloadSoon();
    for (const change of batch.events) {
      if (change.type === 'job') job(change);
      else if (change.type === 'preview') preview(change);
      else if (change.type === 'models') reloadSoon();
    }
  });
  // The browser reconnects by itself; changes missed meanwhile are caught up by one reload.
  events.addEventListener('ready', () => { if (lastReload) reloadSoon(); else lastReload = Date.now(); });
  return events;
}
