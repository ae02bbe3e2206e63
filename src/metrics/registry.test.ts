import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Gauge, Histogram, Registry } from './registry.js';

test('renders counters, computed gauges and histograms in Prometheus text format', () => {
  const r = new Registry();
  const c = r.register(new Counter('berth_requests_total', 'Requests.'));
  c.inc({ kind: 'hosted', status: '200' });
  c.inc({ kind: 'hosted', status: '200' });
  c.inc({ status: '404', kind: 'hosted' });
  r.register(new Gauge('berth_workloads', 'Workloads by state.', () => [[{ state: 'running' }, 3]]));
  const h = r.register(new Histogram('berth_upstream_seconds', 'Latency.', [0.01, 0.1]));
  h.observe({ kind: 'hosted' }, 0.05);
  h.observe({ kind: 'hosted' }, 0.5);
  const text = r.render();
  assert.match(text, /^# TYPE berth_requests_total counter$/m);
  assert.match(text, /^berth_requests_total\{kind="hosted",status="200"\} 2$/m);
  assert.match(text, /^berth_requests_total\{kind="hosted",status="404"\} 1$/m);
  assert.match(text, /^berth_workloads\{state="running"\} 3$/m);
  assert.match(text, /^berth_upstream_seconds_bucket\{kind="hosted",le="0.01"\} 0$/m);
  assert.match(text, /^berth_upstream_seconds_bucket\{kind="hosted",le="0.1"\} 1$/m);
  assert.match(text, /^berth_upstream_seconds_bucket\{kind="hosted",le="\+Inf"\} 2$/m);
  assert.match(text, /^berth_upstream_seconds_count\{kind="hosted"\} 2$/m);
});

test('escapes label values', () => {
  const r = new Registry();
  r.register(new Counter('x_total', 'X.')).inc({ path: 'a"b\\c\nd' });
  assert.match(r.render(), /x_total\{path="a\\"b\\\\c\\nd"\} 1/);
});
