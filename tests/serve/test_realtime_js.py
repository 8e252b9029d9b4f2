"""The official realtime-js (supabase-js's Realtime, vsn 2.0.0, binary frames) under Node."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from support_realtime import make_user, sql, user_token
from support_serve import ServeHandle

pytestmark = pytest.mark.db
REALTIME_JS = (
    Path(__file__).resolve().parents[2] / "web" / "node_modules" / "@supabase" / "realtime-js"
)

# Two clients on one topic: B listens, A sends a JSON and a binary broadcast with ack,
# the database sends one more through realtime.send, A tracks presence. Prints one JSON
# line per observation; exits 0 when B has seen everything.
SCRIPT = r"""
const { RealtimeClient } = require(process.env.RT_JS);
const out = (o) => console.log(JSON.stringify(o));
const opts = { params: { apikey: process.env.RT_KEY } };
const a = new RealtimeClient(process.env.RT_URL, opts);
const b = new RealtimeClient(process.env.RT_URL, opts);
const seen = [];
const finish = () => {
  if (seen.length === 3 && seen.joins) { out({ seen, joins: seen.joins }); process.exit(0); }
};
const chB = b.channel('js-room', { config: { presence: { key: 'bob' } } })
  .on('broadcast', { event: '*' }, (m) => {
    const p = m.payload instanceof ArrayBuffer ? Array.from(new Uint8Array(m.payload)) : m.payload;
    seen.push({ event: m.event, payload: p });
    if (m.event === 'bin') out({ ready_for_db: true });
    finish();
  })
  .on('presence', { event: 'join' }, ({ key, newPresences }) => {
    seen.joins = newPresences.map((p) => [key, p.status]);
    finish();
  });
chB.subscribe((status) => {
  if (status !== 'SUBSCRIBED') return;
  out({ b: status });
  const chA = a.channel('js-room', { config: { broadcast: { ack: true } } });
  chA.subscribe(async (s) => {
    if (s !== 'SUBSCRIBED') return;
    const bytes = new Uint8Array([0, 1, 255]).buffer;
    const acks = [
      await chA.send({ type: 'broadcast', event: 'json', payload: { x: 1 } }),
      await chA.send({ type: 'broadcast', event: 'bin', payload: bytes }),
    ];
    out({ acks });
    await chA.track({ status: 'online' });
  });
});
setTimeout(() => { out({ timeout: true, seen }); process.exit(2); }, 30000);
"""


@pytest.mark.skipif(
    shutil.which("node") is None or not REALTIME_JS.is_dir(),
    reason="needs node and web/node_modules (npm install in web/)",
)
def test_realtime_js_broadcast_binary_presence_and_db(serve: ServeHandle, tmp_path: Path) -> None:
    """realtime-js joins, acks JSON and binary broadcasts, decodes kind 4 frames and presence."""
    script = tmp_path / "realtime.cjs"
    script.write_text(SCRIPT)
    env = {
        **os.environ,
        "RT_JS": str(REALTIME_JS),
        "RT_URL": serve.url.replace("http://", "ws://") + "/realtime/v1",
        "RT_KEY": serve.anon_key,
    }
    # node 20 has WebSocket behind a flag; 22+ has it by default
    proc = subprocess.Popen(
        ["node", "--experimental-websocket", str(script)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(json.loads(line))
        if lines[-1].get("ready_for_db"):
            sql(serve.db_url, "select realtime.send('{\"y\": 2}'::jsonb, 'db', 'js-room', false)")
    code = proc.wait(40)
    assert code == 0, (lines, proc.stderr.read() if proc.stderr else "")
    assert {"acks": ["ok", "ok"]} in lines
    final = lines[-1]
    events = {s["event"]: s["payload"] for s in final["seen"]}
    assert events["json"] == {"x": 1}
    assert events["bin"] == [0, 1, 255]
    assert events["db"]["y"] == 2
    assert [status for _key, status in final["joins"]] == ["online"]


CHANGES_SCRIPT = r"""
const { RealtimeClient } = require(process.env.RT_JS);
const out = (o) => console.log(JSON.stringify(o));
const client = new RealtimeClient(process.env.RT_URL, { params: { apikey: process.env.RT_KEY } });
client.setAuth(process.env.RT_TOKEN).then(() => {
  client.channel(process.env.RT_FORBIDDEN, { config: { private: true } })
    .subscribe((status, err) => { if (status === 'CHANNEL_ERROR') out({ refused: err.message }); });
  client.channel('js-db')
    .on('postgres_changes',
        { event: 'INSERT', schema: 'public', table: 'projects', filter: 'name=eq.js' },
        (p) => { out({ change: [p.eventType, p.new.name, p.table] }); process.exit(0); })
    .subscribe((status) => { if (status === 'SUBSCRIBED') out({ subscribed: true }); });
});
setTimeout(() => { out({ timeout: true }); process.exit(2); }, 30000);
"""


@pytest.mark.skipif(
    shutil.which("node") is None or not REALTIME_JS.is_dir(),
    reason="needs node and web/node_modules (npm install in web/)",
)
def test_realtime_js_postgres_changes_and_refused_private(
    serve: ServeHandle, tmp_path: Path
) -> None:
    """realtime-js matches binding ids on postgres_changes and reports a refused private join."""
    sql(serve.db_url, "alter publication supabase_realtime add table public.projects")
    alice = make_user(serve.db_url, "alice")
    other = make_user(serve.db_url, "other")
    forbidden = str(uuid.uuid4())
    sql(
        serve.db_url,
        "insert into public.projects (id, organization_id, name, slug) values (%s, %s, 'x', 'x')",
        (forbidden, other.org_id),
    )
    script = tmp_path / "changes.cjs"
    script.write_text(CHANGES_SCRIPT)
    env = {
        **os.environ,
        "RT_JS": str(REALTIME_JS),
        "RT_URL": serve.url.replace("http://", "ws://") + "/realtime/v1",
        "RT_KEY": serve.anon_key,
        "RT_TOKEN": user_token(serve, alice),
        "RT_FORBIDDEN": f"project:{forbidden}",
    }
    proc = subprocess.Popen(
        ["node", "--experimental-websocket", str(script)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(json.loads(line))
        if lines[-1].get("subscribed"):
            sql(
                serve.db_url,
                "insert into public.projects (organization_id, name, slug) "
                "values (%s, 'no', 'no'), (%s, 'js', 'js')",
                (alice.org_id, alice.org_id),
            )
    assert proc.wait(40) == 0, lines
    assert {"change": ["INSERT", "js", "projects"]} in lines
    refused = [line["refused"] for line in lines if "refused" in line]
    assert refused and "Unauthorized" in refused[0]
