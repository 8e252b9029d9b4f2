"""supabase-js (from npm, unmodified) in headless Chromium against ``serve``: auth and REST."""

from __future__ import annotations

from typing import Any

from browser_support import PASSWORD, sign_up
from playwright.sync_api import Page


def test_sign_up_gives_a_session_and_the_user(sb_page: Page) -> None:
    """signUp returns the user and a session whose JWT carries the user's id and role."""
    user = sign_up(sb_page, "alice")
    claims = sb_page.evaluate(
        "(token) => JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')))",
        user.access_token,
    )
    assert claims["sub"] == user.id
    assert claims["role"] == "authenticated"
    assert claims["aud"] == "authenticated"
    assert claims["email"] == user.email


def test_sign_in_with_password_then_get_user(sb_page: Page) -> None:
    """signInWithPassword signs in again; getUser asks the server who the token is."""
    user = sign_up(sb_page, "alice")
    result = sb_page.evaluate(
        """async ([email, password]) => {
            const client = window.makeClient('sb-again');
            const signIn = await client.auth.signInWithPassword({ email, password });
            const got = await client.auth.getUser();
            return {
                error: signIn.error?.message ?? null,
                signedIn: signIn.data.user?.id,
                tokenType: signIn.data.session?.token_type,
                expiresIn: signIn.data.session?.expires_in,
                hasRefresh: Boolean(signIn.data.session?.refresh_token),
                got: got.data.user?.id,
                gotEmail: got.data.user?.email,
                gotError: got.error?.message ?? null,
            };
        }""",
        [user.email, PASSWORD],
    )
    assert result["error"] is None and result["gotError"] is None, result
    assert result["signedIn"] == result["got"] == user.id
    assert result["gotEmail"] == user.email
    assert result["tokenType"] == "bearer"
    assert result["expiresIn"] > 0 and result["hasRefresh"]


def test_a_wrong_password_is_refused_like_gotrue(sb_page: Page) -> None:
    """A wrong password gives GoTrue's 400 'Invalid login credentials' and no session."""
    user = sign_up(sb_page, "alice")
    result = sb_page.evaluate(
        """async (email) => {
            const { data, error } = await window.makeClient('sb-wrong')
                .auth.signInWithPassword({ email, password: 'not-the-password' });
            return { message: error?.message, status: error?.status, session: data.session };
        }""",
        user.email,
    )
    assert result == {"message": "Invalid login credentials", "status": 400, "session": None}


def test_refresh_session_rotates_the_tokens(sb_page: Page) -> None:
    """refreshSession trades the refresh token for a new session of the same user."""
    user = sign_up(sb_page, "alice")
    result = sb_page.evaluate(
        """async () => {
            const before = (await alice.auth.getSession()).data.session;
            const { data, error } = await alice.auth.refreshSession();
            return {
                error: error?.message ?? null,
                user: data.user?.id,
                sameRefresh: data.session?.refresh_token === before.refresh_token,
                token: data.session?.access_token,
            };
        }"""
    )
    assert result["error"] is None, result
    assert result["user"] == user.id
    assert result["token"] and not result["sameRefresh"]


def test_sign_out_ends_the_session(sb_page: Page) -> None:
    """After signOut the client has no session and the old refresh token is refused."""
    sign_up(sb_page, "alice")
    result = sb_page.evaluate(
        """async () => {
            const old = (await alice.auth.getSession()).data.session;
            const out = await alice.auth.signOut();
            const after = (await alice.auth.getSession()).data.session;
            const reuse = await window.makeClient('sb-reuse')
                .auth.refreshSession({ refresh_token: old.refresh_token });
            return { error: out.error?.message ?? null, after,
                     reuseError: reuse.error?.message ?? null };
        }"""
    )
    assert result["error"] is None and result["after"] is None, result
    assert result["reuseError"], "a signed-out refresh token must not work"


def _owner_with_org(page: Page, slug: str = "acme") -> dict[str, Any]:
    """Alice signs up and creates an organisation through REST (she becomes its owner)."""
    sign_up(page, "alice")
    created: dict[str, Any] = page.evaluate(
        """async (slug) => {
            const { data, error } = await alice.from('organizations')
                .insert({ name: 'Acme', slug }).select('id, slug, created_by').single();
            return error ? { error } : data;
        }""",
        slug,
    )
    assert "error" not in created, created
    return created


def test_select_with_filters_order_range_and_exact_count(sb_page: Page) -> None:
    """select(cols, count exact).eq().order().range() and .limit() return PostgREST's pages."""
    org = _owner_with_org(sb_page)
    result = sb_page.evaluate(
        """async (org) => {
            const rows = ['p1', 'p2', 'p3', 'p4', 'p5'].map(
                (slug) => ({ organization_id: org, name: 'Project ' + slug, slug }));
            const bulk = await alice.from('projects').insert(rows).select('slug');
            const page = await alice.from('projects')
                .select('slug, name', { count: 'exact' })
                .eq('organization_id', org).order('slug', { ascending: false }).range(1, 2);
            const limited = await alice.from('projects').select('slug')
                .in('slug', ['p1', 'p2', 'p5']).order('slug').limit(2);
            const head = await alice.from('projects')
                .select('*', { count: 'exact', head: true }).gte('slug', 'p3');
            return { bulk: bulk.data?.length, bulkError: bulk.error,
                     page: page.data, count: page.count, status: page.status,
                     pageError: page.error, limited: limited.data, limitedError: limited.error,
                     headCount: head.count, headData: head.data };
        }""",
        org["id"],
    )
    assert result["bulkError"] is None and result["bulk"] == 5, result
    assert result["pageError"] is None, result
    assert result["page"] == [
        {"slug": "p4", "name": "Project p4"},
        {"slug": "p3", "name": "Project p3"},
    ]
    assert result["count"] == 5
    assert result["status"] in (200, 206)
    assert result["limitedError"] is None and result["limited"] == [{"slug": "p1"}, {"slug": "p2"}]
    assert result["headCount"] == 3 and result["headData"] is None


def test_insert_upsert_update_delete(sb_page: Page) -> None:
    """insert (return=minimal), upsert on_conflict, update and delete with filters."""
    org = _owner_with_org(sb_page)
    result = sb_page.evaluate(
        """async (org) => {
            const p = alice.from('projects');
            const minimal = await p.insert({ organization_id: org, name: 'Shop', slug: 'shop' });
            const upsert = await alice.from('projects').upsert(
                { organization_id: org, name: 'Shop API', slug: 'shop' },
                { onConflict: 'organization_id,slug' }).select('name, slug');
            const updated = await alice.from('projects').update({ description: 'the shop' })
                .eq('organization_id', org).eq('slug', 'shop').select('description');
            const duplicate = await alice.from('projects')
                .insert({ organization_id: org, name: 'Again', slug: 'shop' });
            const deleted = await alice.from('projects').delete()
                .eq('slug', 'shop').select('slug');
            const left = await alice.from('projects').select('id', { count: 'exact', head: true })
                .eq('organization_id', org);
            return { minimal: { status: minimal.status, data: minimal.data, error: minimal.error },
                     upsert: upsert.data, upsertError: upsert.error,
                     updated: updated.data, updatedError: updated.error,
                     duplicate: duplicate.error && { code: duplicate.error.code,
                                                     status: duplicate.status },
                     deleted: deleted.data, deletedError: deleted.error, left: left.count };
        }""",
        org["id"],
    )
    assert result["minimal"] == {"status": 201, "data": None, "error": None}
    assert result["upsertError"] is None and result["upsert"] == [
        {"name": "Shop API", "slug": "shop"}
    ]
    assert result["updatedError"] is None and result["updated"] == [{"description": "the shop"}]
    assert result["duplicate"] == {"code": "23505", "status": 409}
    assert result["deletedError"] is None and result["deleted"] == [{"slug": "shop"}]
    assert result["left"] == 0


def test_rpc_calls_the_run_functions(sb_page: Page) -> None:
    """rpc() calls SQL functions with named arguments: a scalar result, then a void one."""
    org = _owner_with_org(sb_page)
    result = sb_page.evaluate(
        """async (org) => {
            const project = await alice.from('projects')
                .insert({ organization_id: org, name: 'Shop', slug: 'shop' }).select('id').single();
            const run = await alice.from('test_runs')
                .insert({ project_id: project.data.id, suite_name: 'shop', trigger: 'ui' })
                .select('id, status').single();
            const context = await alice.rpc('init_run_context',
                { p_run_id: run.data.id, p_test_order: ['login', 'cart'] });
            const finish = await alice.rpc('finish_run',
                { p_run_id: run.data.id, p_status: 'passed' });
            const bad = await alice.rpc('finish_run', { p_run_id: run.data.id, p_status: 'nope' });
            const after = await alice.from('test_runs').select('status')
                .eq('id', run.data.id).single();
            return { run: run.data, runError: run.error, context: context.data,
                     contextError: context.error, finish: finish.error, status: after.data,
                     bad: bad.error && { code: bad.error.code, message: bad.error.message } };
        }""",
        org["id"],
    )
    assert result["runError"] is None and result["run"]["status"] == "running", result
    assert result["contextError"] is None, result
    assert isinstance(result["context"], str) and len(result["context"]) == 36
    assert result["finish"] is None
    assert result["status"] == {"status": "passed"}
    assert result["bad"]["code"] == "22023"
    assert "p_status must be" in result["bad"]["message"]


def test_rls_shows_an_outsider_nothing_and_anon_is_refused(sb_page: Page) -> None:
    """Another organisation's user reads no rows (count 0); the anon key gets 42501."""
    org = _owner_with_org(sb_page)
    sb_page.evaluate(
        """async (org) => { await alice.from('projects')
            .insert({ organization_id: org, name: 'Shop', slug: 'shop' }); }""",
        org["id"],
    )
    sign_up(sb_page, "mallory")
    result = sb_page.evaluate(
        """async () => {
            const seen = await mallory.from('projects').select('id', { count: 'exact' });
            const orgs = await mallory.from('organizations').select('id');
            const anon = await window.makeClient('sb-anon').from('projects').select('id');
            return { seen: seen.data, count: seen.count, orgs: orgs.data,
                     anon: anon.error && { code: anon.error.code, status: anon.status } };
        }"""
    )
    assert result["seen"] == [] and result["count"] == 0
    assert result["orgs"] == []
    assert result["anon"] == {"code": "42501", "status": 401}
