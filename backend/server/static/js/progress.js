// A job as a person follows it: a bar, files and bytes, the current file, speed and time left.
import { h } from './dom.js';
import { count, date, duration, size } from './format.js';
import { sentence } from './words.js';

export const KINDS = {
  scan: 'Scan for new files', hash: 'Hash pending files', import: 'Import from other tools', file: 'Hash one file',
  headers: 'Read model headers',
  hub: 'Look up on the hub',
};
const STATES = {
  queued: 'Waiting', running: 'Running', done: 'Done', failed: 'Failed', cancelled: 'Cancelled',
  interrupted: 'Interrupted',
};

export function isActive(job) {
  return job.state === 'queued' || job.state === 'running';
}

function amounts(job) {
  const parts = [];
  if (job.files_total || job.files_done) {
    parts.push(job.files_total ? `${job.files_done.toLocaleString()} of ${count(job.files_total, 'file')}`
      : count(job.files_done, 'file'));
  }
  if (job.bytes_total || job.bytes_done) {
    parts.push(job.bytes_total ? `${size(job.bytes_done)} of ${size(job.bytes_total)}` : size(job.bytes_done));
  }
  if (job.errors) parts.push(count(job.errors, 'error'));
  return parts.join(' · ');
}

function timeLeft(job) {
  if (job.bytes_total && job.bytes_per_s > 0) return (job.bytes_total - job.bytes_done) / job.bytes_per_s;
  if (job.files_total && job.files_per_s > 0) return (job.files_total - job.files_done) / job.files_per_s;
  return NaN;
}

function speed(job) {
  const parts = [];
  if (job.bytes_per_s > 0) parts.push(`${size(Math.round(job.bytes_per_s))}/s`);
  if (job.files_per_s >= 1) parts.push(`${job.files_per_s.toFixed(job.files_per_s < 10 ? 1 : 0)} files/s`);
  else if (job.files_per_s > 0) parts.push(`a file every ${duration(1 / job.files_per_s)}`);
  const left = duration(timeLeft(job));
  if (left) parts.push(`about ${left} left`);
  return parts.join(' · ');
}

function bar(job, label) {
  const [done, total] = job.bytes_total ? [job.bytes_done, job.bytes_total] : [job.files_done, job.files_total];
  if (!isActive(job) && !total) return null;
  // No value while the total is unknown: the bar shows "working", not a false 0 %.
  return total ? h('progress', { max: total, value: done, 'aria-label': label }) : h('progress', { 'aria-label': label });
}

// Who started it, when, and how long it took: "Job 12 · started by the command line · 7 Dec, 11:52 · took 8 s".
function origin(job) {
  if (typeof job.id !== 'number') return null;
  const parts = [`Job ${job.id}`];
  if (job.started_by_words) parts.push(`started by ${job.started_by_words}`);
  if (job.started_at || job.created_at) parts.push(date(job.started_at || job.created_at));
  if (!isActive(job) && job.duration_s != null) parts.push(`took ${duration(job.duration_s)}`);
  return h('p', { class: 'origin' }, parts.join(' · '));
}

// Each file that failed, and why.
function problemList(job) {
  if (!Array.isArray(job.problems) || !job.problems.length) return null;
  return h('ul', { class: 'problems', 'aria-label': `Problems of job ${job.id}` }, job.problems.map(
    (problem) => h('li', {}, h('span', { class: 'path' }, problem.path), ': ', sentence(problem.reason))));
}

function outcome(job) {
  if (job.summary && !isActive(job)) {
    return h('p', { class: job.state === 'done' ? 'result' : 'problem' }, job.summary);
  }
  if (job.error) return h('p', { class: 'problem' }, sentence(job.error.message || job.error));
  if (!job.result || typeof job.result !== 'object') return null;
  const facts = Object.entries(job.result).filter(([, v]) => typeof v === 'number' || typeof v === 'string');
  return facts.length ? h('p', { class: 'result' },
    facts.map(([key, v]) => `${key.replaceAll('_', ' ')}: ${v.toLocaleString()}`).join(' · ')) : null;
}

export function progressView(job, label) {
  return [
    h('p', { class: `state ${job.state}` }, STATES[job.state] || job.state),
    origin(job),
    bar(job, label),
    h('p', { class: 'amounts' }, amounts(job)),
    isActive(job) ? h('p', { class: 'speed' }, speed(job)) : null,
    isActive(job) && job.current ? h('p', { class: 'current', title: job.current }, 'Now: ', job.current) : null,
    outcome(job),
    isActive(job) ? null : problemList(job),
  ];
}

// Speed for progress the page measures itself (the NDJSON answers have no rates).
export function withRates(job, startedMs) {
  const seconds = (performance.now() - startedMs) / 1000;
  if (seconds < 0.5) return job;
  return { ...job, bytes_per_s: (job.bytes_done || 0) / seconds, files_per_s: (job.files_done || 0) / seconds };
}
