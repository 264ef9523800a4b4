/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SQLite backend of the store: one file, WAL, foreign keys on,
 * synchronous=FULL (a commit is on disk when it returns), versioned
 * migrations in PRAGMA user_version.
 */
#include <errno.h>
#include <string.h>

#include <sqlite3.h>

#include "alloc.h"
#include "cleanup.h"
#include "log.h"
#include "store.h"

/* Prepared statements kept for the SQL texts used again and again (the
 * lookups, the upserts of a batch of samples, the per-VM reads of an
 * evaluation): preparing is most of the cost of a small statement. A
 * statement in use (a query's callback running the same SQL) is not shared:
 * a second one is prepared for the nested call. */
#define STMT_CACHE 64
#define STMT_CACHE_SQL_MAX 65536

struct stmt_slot {
        char *sql;
        sqlite3_stmt *st;
        bool busy;
        uint64_t used;
};

struct store {
        const struct store_ops *ops;    /* first: see store.c */
        sqlite3 *db;
        char *path;
        struct stmt_slot cache[STMT_CACHE];
        uint64_t tick;
};

DEFINE_TRIVIAL_CLEANUP_FUNC(sqlite3_stmt *, sqlite3_finalize)

/*
 * Migrations, applied in order, each in its own transaction; the schema's
 * version is the number applied. Never edit one that has shipped: add the
 * next.
 */
static const char *const migrations[] = {
        /* 1: registration, requests, desired VMs, the audit chain, notifier cursors */
        "CREATE TABLE audit ("
        "  seq INTEGER PRIMARY KEY,"
        "  time INTEGER NOT NULL,"
        "  actor TEXT NOT NULL,"
        "  role TEXT NOT NULL,"
        "  action TEXT NOT NULL,"
        "  object TEXT NOT NULL,"
        "  approval TEXT NOT NULL,"
        "  outcome TEXT NOT NULL,"
        "  rule TEXT NOT NULL,"
        "  detail TEXT NOT NULL,"
        "  prev TEXT NOT NULL,"
        "  hash TEXT NOT NULL UNIQUE);"
        "CREATE TABLE units ("
        "  id INTEGER PRIMARY KEY,"
        "  name TEXT NOT NULL UNIQUE,"
        "  credit_code TEXT,"
        "  contact TEXT,"
        "  created INTEGER NOT NULL);"
        "CREATE TABLE pools ("
        "  name TEXT PRIMARY KEY,"
        "  pack TEXT NOT NULL,"
        "  updated INTEGER NOT NULL);"
        "CREATE TABLE systems ("
        "  id INTEGER PRIMARY KEY,"
        "  unit_id INTEGER NOT NULL REFERENCES units(id),"
        "  name TEXT NOT NULL,"
        "  mlps_level INTEGER NOT NULL CHECK (mlps_level BETWEEN 0 AND 3),"
        "  availability TEXT NOT NULL,"
        "  classified INTEGER NOT NULL CHECK (classified IN (0, 1)),"
        "  state TEXT NOT NULL,"
        "  pool TEXT REFERENCES pools(name),"
        "  trial_length INTEGER,"
        "  agreement TEXT,"
        "  admission TEXT,"
        "  created INTEGER NOT NULL,"
        "  updated INTEGER NOT NULL,"
        "  UNIQUE (unit_id, name));"
        "CREATE TABLE approval_systems ("
        "  id TEXT PRIMARY KEY,"
        "  name TEXT NOT NULL,"
        "  key_type TEXT NOT NULL,"
        "  public_key TEXT NOT NULL,"
        "  fingerprint TEXT NOT NULL,"
        "  created INTEGER NOT NULL);"
        "CREATE TABLE party_keys ("
        "  id INTEGER PRIMARY KEY,"
        "  party TEXT NOT NULL CHECK (party IN ('tenant', 'provider', 'authority')),"
        "  unit_id INTEGER REFERENCES units(id),"
        "  holder TEXT NOT NULL,"
        "  key_type TEXT NOT NULL,"
        "  public_key TEXT NOT NULL,"
        "  fingerprint TEXT NOT NULL UNIQUE,"
        "  created INTEGER NOT NULL,"
        "  revoked INTEGER);"
        "CREATE TABLE hosts ("
        "  name TEXT PRIMARY KEY,"
        "  pool TEXT NOT NULL REFERENCES pools(name),"
        "  underlay_address TEXT NOT NULL,"
        "  operations_address TEXT NOT NULL,"
        "  certificate_sha256 TEXT,"
        "  state TEXT NOT NULL,"
        "  created INTEGER NOT NULL);"
        "CREATE TABLE requests ("
        "  id INTEGER PRIMARY KEY,"
        "  kind TEXT NOT NULL CHECK (kind IN ('apply', 'change', 'exit')),"
        "  system_id INTEGER NOT NULL REFERENCES systems(id),"
        "  approval_system TEXT NOT NULL REFERENCES approval_systems(id),"
        "  approval_id TEXT NOT NULL,"
        "  digest TEXT NOT NULL,"
        "  document TEXT NOT NULL,"
        "  received INTEGER NOT NULL,"
        "  outcome TEXT NOT NULL,"
        "  exception INTEGER NOT NULL DEFAULT 0,"
        "  UNIQUE (approval_system, approval_id));"
        "CREATE INDEX requests_system ON requests(system_id, kind, received);"
        "CREATE TABLE transitions ("
        "  id INTEGER PRIMARY KEY,"
        "  system_id INTEGER NOT NULL REFERENCES systems(id),"
        "  from_state TEXT NOT NULL,"
        "  to_state TEXT NOT NULL,"
        "  time INTEGER NOT NULL,"
        "  actor TEXT NOT NULL,"
        "  request_id INTEGER REFERENCES requests(id),"
        "  audit_seq INTEGER NOT NULL REFERENCES audit(seq));"
        /* R-NM2: a VM's name is unique within its resource pool. */
        "CREATE TABLE vms ("
        "  id INTEGER PRIMARY KEY,"
        "  system_id INTEGER NOT NULL REFERENCES systems(id),"
        "  pool TEXT NOT NULL REFERENCES pools(name),"
        "  name TEXT NOT NULL,"
        "  role TEXT NOT NULL,"
        "  number INTEGER NOT NULL,"
        "  spec TEXT NOT NULL,"
        "  state TEXT NOT NULL,"
        "  request_id INTEGER NOT NULL REFERENCES requests(id),"
        "  UNIQUE (pool, name));"
        "CREATE TABLE notify_cursors ("
        "  notifier TEXT PRIMARY KEY,"
        "  seq INTEGER NOT NULL,"
        "  attempts INTEGER NOT NULL DEFAULT 0,"
        "  next_at_ms INTEGER NOT NULL DEFAULT 0,"
        "  last_error TEXT);",
        /* 2: hosts' capacity and liveness, VM placement and observed state,
         * per-host job queues, deadline timers, settings */
        "ALTER TABLE hosts ADD COLUMN vcpus INTEGER;"
        "ALTER TABLE hosts ADD COLUMN memory_mib INTEGER;"
        "ALTER TABLE hosts ADD COLUMN storage_gib INTEGER;"
        "ALTER TABLE hosts ADD COLUMN arch TEXT;"
        "ALTER TABLE hosts ADD COLUMN hypervisor TEXT;"
        "ALTER TABLE hosts ADD COLUMN last_seen INTEGER;"
        "ALTER TABLE vms ADD COLUMN uuid TEXT;"
        "ALTER TABLE vms ADD COLUMN host TEXT REFERENCES hosts(name);"
        "ALTER TABLE vms ADD COLUMN observed TEXT;"
        "ALTER TABLE vms ADD COLUMN labels_state TEXT NOT NULL DEFAULT 'unknown';"
        "CREATE UNIQUE INDEX vms_uuid ON vms(uuid);"
        "CREATE INDEX vms_host ON vms(host);"
        "ALTER TABLE systems ADD COLUMN return_state TEXT;"
        "ALTER TABLE systems ADD COLUMN trial_end INTEGER;"
        "CREATE TABLE jobs ("
        "  id INTEGER PRIMARY KEY,"
        "  host TEXT NOT NULL REFERENCES hosts(name),"
        "  vm_id INTEGER REFERENCES vms(id),"
        "  request_id INTEGER REFERENCES requests(id),"
        "  kind TEXT NOT NULL CHECK (kind IN ('vm.ensure', 'vm.delete')),"
        "  payload TEXT NOT NULL,"
        "  state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'done', 'failed')),"
        "  attempts INTEGER NOT NULL DEFAULT 0,"
        "  created INTEGER NOT NULL,"
        "  sent_at INTEGER,"
        "  done_at INTEGER,"
        "  result TEXT);"
        "CREATE INDEX jobs_host_state ON jobs(host, state);"
        "CREATE INDEX jobs_vm ON jobs(vm_id, state);"
        "CREATE TABLE timers ("
        "  id INTEGER PRIMARY KEY,"
        "  kind TEXT NOT NULL,"
        "  system_id INTEGER NOT NULL REFERENCES systems(id),"
        "  due INTEGER NOT NULL,"
        "  fired INTEGER,"
        "  UNIQUE (kind, system_id));"
        "CREATE TABLE settings ("
        "  key TEXT PRIMARY KEY,"
        "  value TEXT NOT NULL);",
        /* 3: each VM's size as columns, so placement sums them in the engine */
        "ALTER TABLE vms ADD COLUMN vcpus INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE vms ADD COLUMN memory_gib INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE vms ADD COLUMN disk_gib INTEGER NOT NULL DEFAULT 0;"
        "UPDATE vms SET vcpus = COALESCE(json_extract(spec, '$.vcpus'), 0),"
        "  memory_gib = COALESCE(json_extract(spec, '$.memory_gib'), 0),"
        "  disk_gib = COALESCE(json_extract(spec, '$.system_disk.gib'), 0) + COALESCE(json_extract(spec, '$.data_disk.gib'), 0);"
        "CREATE INDEX vms_host_state ON vms(host, state);",
        /* 4: one VPC per business system (R-NW1) with the provider's
         * addresses (R-NW2): VXLAN ids, CIDRs, VM addresses and MACs, the
         * hosts each VPC spans with their uplink addresses; VPC jobs */
        "CREATE TABLE vpcs ("
        "  id INTEGER PRIMARY KEY,"
        "  system_id INTEGER NOT NULL UNIQUE REFERENCES systems(id),"
        "  pool TEXT NOT NULL REFERENCES pools(name),"
        "  vni INTEGER NOT NULL UNIQUE,"
        "  cidr TEXT NOT NULL,"
        "  gateway TEXT NOT NULL,"
        "  gateway_mac TEXT NOT NULL,"
        "  egress TEXT NOT NULL DEFAULT 'none' CHECK (egress IN ('none', 'egov', 'internet')),"
        "  isolated INTEGER NOT NULL DEFAULT 0 CHECK (isolated IN (0, 1)),"
        "  created INTEGER NOT NULL,"
        "  updated INTEGER NOT NULL);"
        "CREATE TABLE vpc_hosts ("
        "  vpc_id INTEGER NOT NULL REFERENCES vpcs(id),"
        "  host TEXT NOT NULL REFERENCES hosts(name),"
        "  state TEXT NOT NULL CHECK (state IN ('pending', 'ready', 'failed', 'removing')),"
        "  spec TEXT,"
        "  uplink_kind TEXT,"
        "  uplink_address TEXT,"
        "  PRIMARY KEY (vpc_id, host));"
        "CREATE UNIQUE INDEX vpc_hosts_uplink ON vpc_hosts(uplink_kind, uplink_address);"
        "ALTER TABLE vms ADD COLUMN address TEXT;"
        "ALTER TABLE vms ADD COLUMN mac TEXT;"
        "CREATE UNIQUE INDEX vms_mac ON vms(mac);"
        /* An address is the VM's until it is deleted; then it may be given again. */
        "CREATE UNIQUE INDEX vms_system_address ON vms(system_id, address) WHERE state <> 'deleted';"
        /* The jobs' kinds grow: SQLite cannot alter a CHECK, so the table is rebuilt. */
        "CREATE TABLE jobs4 ("
        "  id INTEGER PRIMARY KEY,"
        "  host TEXT NOT NULL REFERENCES hosts(name),"
        "  vm_id INTEGER REFERENCES vms(id),"
        "  vpc_id INTEGER REFERENCES vpcs(id),"
        "  request_id INTEGER REFERENCES requests(id),"
        "  kind TEXT NOT NULL CHECK (kind IN ('vm.ensure', 'vm.delete', 'vpc.ensure', 'vpc.delete')),"
        "  payload TEXT NOT NULL,"
        "  state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'done', 'failed')),"
        "  attempts INTEGER NOT NULL DEFAULT 0,"
        "  created INTEGER NOT NULL,"
        "  sent_at INTEGER,"
        "  done_at INTEGER,"
        "  result TEXT);"
        "INSERT INTO jobs4 (id, host, vm_id, request_id, kind, payload, state, attempts, created, sent_at, done_at, result) "
        "  SELECT id, host, vm_id, request_id, kind, payload, state, attempts, created, sent_at, done_at, result FROM jobs;"
        "DROP TABLE jobs;"
        "ALTER TABLE jobs4 RENAME TO jobs;"
        "CREATE INDEX jobs_host_state ON jobs(host, state);"
        "CREATE INDEX jobs_vm ON jobs(vm_id, state);"
        "CREATE INDEX jobs_vpc ON jobs(vpc_id, state);",
        /* 5: tri-party sheets (R-LC3, R-LC4) and their signatures; the
         * change's "before"; key revocation; trial extensions (R-LC2);
         * billing; signed checkpoints of the audit chain and the
         * authority's countersignatures; the chain append-only inside the
         * retention (R-AU1): records are never updated, and deleted only up
         * to the seq pruning has archived. A transition keeps the seq of
         * its record, which pruning may archive: no foreign key. Nor is a
         * record's hash a unique key (the chain links them; seq is the key):
         * its index was most of the chain's cost on bulk appends. */
        "CREATE TABLE transitions5 ("
        "  id INTEGER PRIMARY KEY,"
        "  system_id INTEGER NOT NULL REFERENCES systems(id),"
        "  from_state TEXT NOT NULL,"
        "  to_state TEXT NOT NULL,"
        "  time INTEGER NOT NULL,"
        "  actor TEXT NOT NULL,"
        "  request_id INTEGER REFERENCES requests(id),"
        "  audit_seq INTEGER NOT NULL);"
        "INSERT INTO transitions5 SELECT id, system_id, from_state, to_state, time, actor, request_id, audit_seq FROM transitions;"
        "DROP TABLE transitions;"
        "ALTER TABLE transitions5 RENAME TO transitions;"
        "CREATE INDEX transitions_system ON transitions(system_id);"
        "CREATE TABLE audit5 ("
        "  seq INTEGER PRIMARY KEY,"
        "  time INTEGER NOT NULL,"
        "  actor TEXT NOT NULL,"
        "  role TEXT NOT NULL,"
        "  action TEXT NOT NULL,"
        "  object TEXT NOT NULL,"
        "  approval TEXT NOT NULL,"
        "  outcome TEXT NOT NULL,"
        "  rule TEXT NOT NULL,"
        "  detail TEXT NOT NULL,"
        "  prev TEXT NOT NULL,"
        "  hash TEXT NOT NULL);"
        "INSERT INTO audit5 SELECT seq, time, actor, role, action, object, approval, outcome, rule, detail, prev, hash FROM audit;"
        "DROP TABLE audit;"
        "ALTER TABLE audit5 RENAME TO audit;"
        "CREATE TABLE sheets ("
        "  id INTEGER PRIMARY KEY,"
        "  system_id INTEGER NOT NULL REFERENCES systems(id),"
        "  kind TEXT NOT NULL CHECK (kind IN ('golive', 'change', 'exit')),"
        "  request_id INTEGER REFERENCES requests(id),"
        "  document TEXT NOT NULL,"
        "  hash TEXT NOT NULL,"
        "  signature_type TEXT NOT NULL,"
        "  state TEXT NOT NULL CHECK (state IN ('open', 'complete')),"
        "  created INTEGER NOT NULL,"
        "  completed INTEGER);"
        "CREATE UNIQUE INDEX sheets_golive ON sheets(system_id) WHERE kind = 'golive';"
        "CREATE UNIQUE INDEX sheets_request ON sheets(request_id, kind) WHERE request_id IS NOT NULL AND kind = 'change';"
        "CREATE TABLE sheet_signatures ("
        "  sheet_id INTEGER NOT NULL REFERENCES sheets(id),"
        "  party TEXT NOT NULL CHECK (party IN ('tenant', 'provider', 'authority')),"
        "  key_id INTEGER NOT NULL REFERENCES party_keys(id),"
        "  signature TEXT NOT NULL,"
        "  time INTEGER NOT NULL,"
        "  PRIMARY KEY (sheet_id, party));"
        "ALTER TABLE requests ADD COLUMN before TEXT;"
        "ALTER TABLE requests ADD COLUMN closed INTEGER;"
        "ALTER TABLE party_keys ADD COLUMN revoked_reason TEXT;"
        "ALTER TABLE systems ADD COLUMN trial_start INTEGER;"
        "ALTER TABLE systems ADD COLUMN trial_extended INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE systems ADD COLUMN billing_start INTEGER;"
        "CREATE TABLE checkpoints ("
        "  id INTEGER PRIMARY KEY,"
        "  seq INTEGER NOT NULL,"
        "  head TEXT NOT NULL,"
        "  time INTEGER NOT NULL,"
        "  key_type TEXT NOT NULL,"
        "  fingerprint TEXT NOT NULL,"
        "  public_key TEXT NOT NULL,"
        "  signature TEXT NOT NULL);"
        "CREATE INDEX checkpoints_seq ON checkpoints(seq);"
        "CREATE TABLE countersignatures ("
        "  checkpoint_id INTEGER NOT NULL REFERENCES checkpoints(id),"
        "  key_id INTEGER NOT NULL REFERENCES party_keys(id),"
        "  signature TEXT NOT NULL,"
        "  time INTEGER NOT NULL,"
        "  PRIMARY KEY (checkpoint_id, key_id));"
        "CREATE TABLE audit_archives ("
        "  id INTEGER PRIMARY KEY,"
        "  from_seq INTEGER NOT NULL,"
        "  to_seq INTEGER NOT NULL,"
        "  anchor TEXT NOT NULL,"
        "  head TEXT NOT NULL,"
        "  path TEXT NOT NULL,"
        "  file_hash TEXT NOT NULL,"
        "  created INTEGER NOT NULL);"
        "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
        "BEGIN SELECT RAISE(ABORT, 'audit records are append-only (R-AU1)'); END;"
        "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit "
        "WHEN old.seq > COALESCE((SELECT MAX(to_seq) FROM audit_archives), 0) "
        "BEGIN SELECT RAISE(ABORT, 'audit records inside the retention are never removed (R-AU1)'); END;",
        /* 6: operations tunnels (R-OP1..R-OP3). A tunnel is an approved
         * request of its own table (its approval id is unique across
         * requests and tunnels: intake checks both); the token is kept
         * only as its hash. The jobs' kinds grow again. */
        "CREATE TABLE tunnels ("
        "  id INTEGER PRIMARY KEY,"
        "  approval_system TEXT NOT NULL REFERENCES approval_systems(id),"
        "  approval_id TEXT NOT NULL,"
        "  digest TEXT NOT NULL,"
        "  document TEXT NOT NULL,"
        "  received INTEGER NOT NULL,"
        "  system_id INTEGER NOT NULL REFERENCES systems(id),"
        "  vm_id INTEGER NOT NULL REFERENCES vms(id),"
        "  host TEXT NOT NULL REFERENCES hosts(name),"
        "  target_address TEXT NOT NULL,"
        "  port INTEGER NOT NULL,"
        "  minutes INTEGER NOT NULL,"
        "  deadline INTEGER NOT NULL,"
        "  purpose TEXT NOT NULL,"
        "  operator_name TEXT NOT NULL,"
        "  operator_id_number TEXT NOT NULL,"
        "  operator_organization TEXT,"
        "  operator_cert_sha256 TEXT NOT NULL,"
        "  token_hash TEXT NOT NULL,"
        "  state TEXT NOT NULL CHECK (state IN ('opening', 'open', 'in_session', 'closed', 'failed')),"
        "  listen_address TEXT,"
        "  listen_port INTEGER,"
        "  opened_ms INTEGER,"
        "  first_byte_ms INTEGER,"
        "  closed_ms INTEGER,"
        "  close_reason TEXT,"
        "  bytes_in INTEGER,"
        "  bytes_out INTEGER,"
        "  refusals INTEGER NOT NULL DEFAULT 0,"
        "  event_seq INTEGER NOT NULL DEFAULT 0,"
        "  UNIQUE (approval_system, approval_id));"
        "CREATE INDEX tunnels_system ON tunnels(system_id);"
        "CREATE TABLE jobs6 ("
        "  id INTEGER PRIMARY KEY,"
        "  host TEXT NOT NULL REFERENCES hosts(name),"
        "  vm_id INTEGER REFERENCES vms(id),"
        "  vpc_id INTEGER REFERENCES vpcs(id),"
        "  request_id INTEGER REFERENCES requests(id),"
        "  tunnel_id INTEGER REFERENCES tunnels(id),"
        "  kind TEXT NOT NULL CHECK (kind IN ('vm.ensure', 'vm.delete', 'vpc.ensure', 'vpc.delete', 'tunnel.open', 'tunnel.close')),"
        "  payload TEXT NOT NULL,"
        "  state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'done', 'failed')),"
        "  attempts INTEGER NOT NULL DEFAULT 0,"
        "  created INTEGER NOT NULL,"
        "  sent_at INTEGER,"
        "  done_at INTEGER,"
        "  result TEXT);"
        "INSERT INTO jobs6 (id, host, vm_id, vpc_id, request_id, kind, payload, state, attempts, created, sent_at, done_at, result) "
        "  SELECT id, host, vm_id, vpc_id, request_id, kind, payload, state, attempts, created, sent_at, done_at, result FROM jobs;"
        "DROP TABLE jobs;"
        "ALTER TABLE jobs6 RENAME TO jobs;"
        "CREATE INDEX jobs_host_state ON jobs(host, state);"
        "CREATE INDEX jobs_vm ON jobs(vm_id, state);"
        "CREATE INDEX jobs_vpc ON jobs(vpc_id, state);"
        "CREATE INDEX jobs_tunnel ON jobs(tunnel_id);",
        /* 7: exit and reclaim (R-EX1..R-EX3, R-LC5): one exit per system,
         * the tenant's statement or the authority's order, the step the
         * reclaim is at, each volume's wipe with its certificate, the
         * hosts' wipe keys; the jobs' kinds grow by vm.stop and vm.wipe. */
        "CREATE TABLE exits ("
        "  system_id INTEGER PRIMARY KEY REFERENCES systems(id),"
        "  request_id INTEGER NOT NULL REFERENCES requests(id),"
        "  initiator TEXT NOT NULL,"
        "  ground TEXT NOT NULL,"
        "  requested INTEGER NOT NULL,"
        "  grace_until INTEGER,"
        "  statement TEXT NOT NULL,"
        "  statement_hash TEXT NOT NULL,"
        "  statement_key INTEGER REFERENCES party_keys(id),"
        "  statement_signature TEXT,"
        "  statement_at INTEGER,"
        "  order_doc TEXT,"
        "  order_at INTEGER,"
        "  step TEXT NOT NULL CHECK (step IN ('grace', 'stopping', 'wiping', 'deleting', 'network', 'sheet', 'done')),"
        "  step_at INTEGER NOT NULL,"
        "  problem TEXT,"
        "  released TEXT,"
        "  sheet_id INTEGER REFERENCES sheets(id));"
        "CREATE TABLE wipes ("
        "  vm_id INTEGER NOT NULL REFERENCES vms(id),"
        "  disk TEXT NOT NULL,"
        "  job_id INTEGER REFERENCES jobs(id),"
        "  host TEXT NOT NULL,"
        "  path TEXT,"
        "  size INTEGER,"
        "  phase TEXT,"
        "  pass INTEGER,"
        "  passes INTEGER,"
        "  done INTEGER,"
        "  total INTEGER,"
        "  rate REAL,"
        "  updated INTEGER,"
        "  certificate TEXT,"
        "  PRIMARY KEY (vm_id, disk));"
        "ALTER TABLE hosts ADD COLUMN wipe_key TEXT;"
        "CREATE UNIQUE INDEX sheets_exit ON sheets(system_id) WHERE kind = 'exit';"
        "CREATE TABLE jobs7 ("
        "  id INTEGER PRIMARY KEY,"
        "  host TEXT NOT NULL REFERENCES hosts(name),"
        "  vm_id INTEGER REFERENCES vms(id),"
        "  vpc_id INTEGER REFERENCES vpcs(id),"
        "  request_id INTEGER REFERENCES requests(id),"
        "  tunnel_id INTEGER REFERENCES tunnels(id),"
        "  kind TEXT NOT NULL CHECK (kind IN ('vm.ensure', 'vm.delete', 'vpc.ensure', 'vpc.delete', 'tunnel.open', 'tunnel.close', "
        "'vm.stop', 'vm.wipe')),"
        "  payload TEXT NOT NULL,"
        "  state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'done', 'failed')),"
        "  attempts INTEGER NOT NULL DEFAULT 0,"
        "  created INTEGER NOT NULL,"
        "  sent_at INTEGER,"
        "  done_at INTEGER,"
        "  result TEXT);"
        "INSERT INTO jobs7 SELECT id, host, vm_id, vpc_id, request_id, tunnel_id, kind, payload, state, attempts, created, sent_at, done_at, result FROM jobs;"
        "DROP TABLE jobs;"
        "ALTER TABLE jobs7 RENAME TO jobs;"
        "CREATE INDEX jobs_host_state ON jobs(host, state);"
        "CREATE INDEX jobs_vm ON jobs(vm_id, state);"
        "CREATE INDEX jobs_vpc ON jobs(vpc_id, state);"
        "CREATE INDEX jobs_tunnel ON jobs(tunnel_id);",
        /* 8: utilization (R-RS1..R-RS7, R-LC2). Per VM and day (the pool's
         * calendar day, days since 1970-01-01) the sum, count and maximum
         * of each metric in hundredths of a percent: storage grows with VMs
         * x days, not with samples. A batch of samples is counted once
         * (metric_batches, by the digest of its bytes). Recommendations per
         * VM and period ("YYYY-MM", or "trial" for R-LC2): before and after
         * per dimension, after NULL where nothing changes. */
        "CREATE TABLE usage_daily ("
        "  vm_id INTEGER NOT NULL REFERENCES vms(id),"
        "  day INTEGER NOT NULL,"
        "  cpu_sum INTEGER NOT NULL DEFAULT 0,"
        "  cpu_n INTEGER NOT NULL DEFAULT 0,"
        "  cpu_max INTEGER,"
        "  mem_sum INTEGER NOT NULL DEFAULT 0,"
        "  mem_n INTEGER NOT NULL DEFAULT 0,"
        "  mem_max INTEGER,"
        "  disk_sum INTEGER NOT NULL DEFAULT 0,"
        "  disk_n INTEGER NOT NULL DEFAULT 0,"
        "  disk_max INTEGER,"
        "  PRIMARY KEY (vm_id, day)) WITHOUT ROWID;"
        "CREATE TABLE metric_batches ("
        "  digest TEXT PRIMARY KEY,"
        "  source TEXT NOT NULL,"
        "  samples INTEGER NOT NULL,"
        "  received INTEGER NOT NULL);"
        "CREATE TABLE recommendations ("
        "  id INTEGER PRIMARY KEY,"
        "  vm_id INTEGER NOT NULL REFERENCES vms(id),"
        "  system_id INTEGER NOT NULL REFERENCES systems(id),"
        "  period TEXT NOT NULL,"
        "  first_day INTEGER NOT NULL,"
        "  last_day INTEGER NOT NULL,"
        "  vcpus_before INTEGER NOT NULL,"
        "  vcpus_after INTEGER,"
        "  memory_before INTEGER NOT NULL,"
        "  memory_after INTEGER,"
        "  disk_before INTEGER NOT NULL,"
        "  disk_after INTEGER,"
        "  idle INTEGER NOT NULL CHECK (idle IN (0, 1)),"
        "  rules TEXT NOT NULL,"
        "  figures TEXT NOT NULL,"
        "  created INTEGER NOT NULL,"
        "  UNIQUE (vm_id, period));"
        "CREATE INDEX recommendations_system ON recommendations(system_id, period);",
};

static int sqlite_fail(struct store *s, int rc, const char *what) {
        int r;

        switch (rc & 0xff) {
        case SQLITE_CONSTRAINT:
                r = (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) ? -EEXIST : -EINVAL;
                break;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                r = -EBUSY;
                break;
        case SQLITE_NOMEM:
                r = -ENOMEM;
                break;
        case SQLITE_FULL:
                r = -ENOSPC;
                break;
        default:
                r = -EIO;
        }
        if (r == -EEXIST)
                log_debug("sqlite %s: %s", what, s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        else
                log_warning("sqlite %s: %s", what, s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        return r;
}

static int sqlite_exec_plain(struct store *s, const char *sql) {
        char *msg = NULL;
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
        if (rc != SQLITE_OK) {
                log_warning("sqlite: %s: %s", sql, msg ? msg : sqlite3_errstr(rc));
                sqlite3_free(msg);
                return sqlite_fail(NULL, rc, "exec");
        }
        return 0;
}

/* A statement for sql with args bound: from the cache where one is idle,
 * else newly prepared (and cached where there is room or an idle slot to
 * evict). Hand it back with sqlite_release(). */
static int sqlite_acquire(struct store *s, const char *sql, const struct store_value *args, size_t n,
                          sqlite3_stmt **ret, struct stmt_slot **ret_slot) {
        struct stmt_slot *slot = NULL, *victim = NULL;
        sqlite3_stmt *st = NULL;
        size_t len = strlen(sql);
        int rc;

        if (len <= STMT_CACHE_SQL_MAX)
                for (size_t i = 0; i < STMT_CACHE; i++) {
                        struct stmt_slot *c = &s->cache[i];
                        if (c->busy)
                                continue;
                        if (c->sql && strcmp(c->sql, sql) == 0) {
                                slot = c;
                                break;
                        }
                        if (!victim || !c->sql || (victim->sql && c->used < victim->used))
                                victim = c;
                }
        if (slot)
                st = slot->st;
        else {
                rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
                if (rc != SQLITE_OK)
                        return sqlite_fail(s, rc, "prepare");
                if (victim && len <= STMT_CACHE_SQL_MAX) {
                        if (victim->sql) {
                                sqlite3_finalize(victim->st);
                                free(victim->sql);
                        }
                        *victim = (struct stmt_slot) { .sql = xstrdup(sql), .st = st };
                        slot = victim;
                }
        }
        if (slot) {
                slot->busy = true;
                slot->used = ++s->tick;
        }
        *ret = st;
        *ret_slot = slot;

        if ((size_t) sqlite3_bind_parameter_count(st) != n) {
                log_error("sqlite: statement has %d parameters, %zu given: %s", sqlite3_bind_parameter_count(st), n, sql);
                rc = SQLITE_MISUSE;
                goto fail;
        }
        for (size_t i = 0; i < n; i++) {
                switch (args[i].type) {
                case STORE_NULL:
                        rc = sqlite3_bind_null(st, i + 1);
                        break;
                case STORE_INT:
                        rc = sqlite3_bind_int64(st, i + 1, args[i].i);
                        break;
                case STORE_TEXT:
                        rc = sqlite3_bind_text(st, i + 1, args[i].s, -1, SQLITE_STATIC);
                        break;
                }
                if (rc != SQLITE_OK)
                        goto fail;
        }
        return 0;
fail:;
        int r = rc == SQLITE_MISUSE ? -EINVAL : sqlite_fail(s, rc, "bind");
        if (slot) {
                sqlite3_reset(st);
                sqlite3_clear_bindings(st);
                slot->busy = false;
        } else
                sqlite3_finalize(st);
        *ret = NULL;
        return r;
}

static void sqlite_release(sqlite3_stmt *st, struct stmt_slot *slot) {
        if (!st)
                return;
        if (!slot) {
                sqlite3_finalize(st);
                return;
        }
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        slot->busy = false;
}

static int sqlite_exec(struct store *s, const char *sql, const struct store_value *args, size_t n,
                       int64_t *ret_changes) {
        sqlite3_stmt *st;
        struct stmt_slot *slot;
        int r = sqlite_acquire(s, sql, args, n, &st, &slot);
        if (r < 0)
                return r;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
                ;
        if (rc != SQLITE_DONE)
                r = sqlite_fail(s, rc, "step");
        else if (ret_changes)
                *ret_changes = sqlite3_changes64(s->db);
        sqlite_release(st, slot);
        return r;
}

static int sqlite_query(struct store *s, const char *sql, const struct store_value *args, size_t n,
                        store_row_fn fn, void *userdata) {
        sqlite3_stmt *st;
        struct stmt_slot *slot;
        int r = sqlite_acquire(s, sql, args, n, &st, &slot);
        if (r < 0)
                return r;

        /* The columns are read once the first row is there: a statement
         * kept from before a schema change is prepared again by its first
         * step, which frees the names it had. */
        int ncol = 0;
        _cleanup_free_ const char **names = NULL;
        _cleanup_free_ struct store_value *v = NULL;

        int rows = 0, rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (!names) {
                        ncol = sqlite3_column_count(st);
                        names = xnew(const char *, ncol + 1);
                        v = xnew(struct store_value, ncol + 1);
                        for (int i = 0; i < ncol; i++)
                                names[i] = sqlite3_column_name(st, i);
                }
                for (int i = 0; i < ncol; i++) {
                        switch (sqlite3_column_type(st, i)) {
                        case SQLITE_NULL:
                                v[i] = STORE_NULL_VALUE;
                                break;
                        case SQLITE_INTEGER:
                                v[i] = STORE_INT(sqlite3_column_int64(st, i));
                                break;
                        default:
                                v[i] = (struct store_value) { .type = STORE_TEXT,
                                                              .s = (const char *) sqlite3_column_text(st, i) };
                                if (!v[i].s)
                                        v[i].s = "";
                        }
                }
                rows++;
                if (fn) {
                        struct store_row row = { .n = ncol, .names = names, .v = v };
                        r = fn(&row, userdata);
                        if (r < 0) {
                                sqlite_release(st, slot);
                                return r;
                        }
                }
        }
        r = rc == SQLITE_DONE ? rows : sqlite_fail(s, rc, "step");
        sqlite_release(st, slot);
        return r;
}

static int sqlite_begin(struct store *s) {
        return sqlite_exec_plain(s, "BEGIN IMMEDIATE");
}

static int sqlite_commit(struct store *s) {
        return sqlite_exec_plain(s, "COMMIT");
}

static int sqlite_rollback(struct store *s) {
        if (sqlite3_get_autocommit(s->db))
                return 0;
        return sqlite_exec_plain(s, "ROLLBACK");
}

static int sqlite_version(struct store *s, int64_t *ret) {
        return store_query_int(s, "PRAGMA user_version", STORE_NO_ARGS, ret);
}

static int sqlite_migrate(struct store *s) {
        int64_t version;
        int r = sqlite_version(s, &version);
        if (r < 0)
                return r;
        if (version > (int64_t) ELEMENTSOF(migrations))
                return log_error_errno(-EPROTO, "store %s has schema version %lld, newer than this program's %zu",
                                       s->path, (long long) version, ELEMENTSOF(migrations));
        for (size_t i = version; i < ELEMENTSOF(migrations); i++) {
                r = sqlite_begin(s);
                if (r < 0)
                        return r;
                r = sqlite_exec_plain(s, migrations[i]);
                if (r >= 0) {
                        _cleanup_free_ char *set = xasprintf("PRAGMA user_version = %zu", i + 1);
                        r = sqlite_exec_plain(s, set);
                }
                if (r < 0) {
                        sqlite_rollback(s);
                        return log_error_errno(r, "store %s: migration %zu failed", s->path, i + 1);
                }
                r = sqlite_commit(s);
                if (r < 0)
                        return r;
                log_info("store %s: migrated to schema version %zu", s->path, i + 1);
        }
        return 0;
}

static void sqlite_close(struct store *s) {
        if (!s)
                return;
        for (size_t i = 0; i < STMT_CACHE; i++)
                if (s->cache[i].sql) {
                        sqlite3_finalize(s->cache[i].st);
                        free(s->cache[i].sql);
                }
        sqlite3_close_v2(s->db);
        free(s->path);
        free(s);
}

static int sqlite_open(const char *location, struct store **ret) {
        struct store *s = xnew(struct store, 1);
        s->ops = &store_sqlite_ops;
        s->path = xstrdup(location);

        int rc = sqlite3_open_v2(location, &s->db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
        if (rc != SQLITE_OK) {
                log_error("store %s: %s", location, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
                sqlite_close(s);
                return -EIO;
        }
        sqlite3_extended_result_codes(s->db, 1);
        sqlite3_busy_timeout(s->db, 10000);

        int r = sqlite_exec_plain(s, "PRAGMA journal_mode = WAL");
        if (r >= 0)
                r = sqlite_exec_plain(s, "PRAGMA synchronous = FULL");
        if (r >= 0)
                r = sqlite_exec_plain(s, "PRAGMA foreign_keys = ON");
        if (r >= 0)
                r = sqlite_migrate(s);
        if (r < 0) {
                sqlite_close(s);
                return r;
        }
        *ret = s;
        return 0;
}

const struct store_ops store_sqlite_ops = {
        .scheme = "sqlite",
        .open = sqlite_open,
        .close = sqlite_close,
        .begin = sqlite_begin,
        .commit = sqlite_commit,
        .rollback = sqlite_rollback,
        .exec = sqlite_exec,
        .query = sqlite_query,
        .version = sqlite_version,
};
