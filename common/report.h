/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The monthly utilization report of a unit (R-RS7; Z20: due by the 5th):
 * per business system one row per VM with its allocation, monthly average
 * and peak CPU and memory, disk usage and its trend, the recommendation
 * (R-RS1..R-RS6) and the idle flag, and totals per system and unit.
 *
 * The orchestrator builds the model (orchestrator/usage.c); these render it.
 * Percentages are 0..100; null is "no samples", a gap, never shown as 0:
 *
 *   {"schema":"govcloud-report/1", "kind":"monthly_usage", "rule":"R-RS7",
 *    "unit", "month":"YYYY-MM",
 *    "period":{"first","last","days","utc_offset"}, "due":"YYYY-MM-DD"|null,
 *    "generated":"RFC 3339",
 *    "systems":[{"id","name","pool","pack","state",
 *      "bands":{"regulated":bool,
 *               "cpu":[{"from":n|null,"to":n|null,"from_inclusive","to_inclusive","factor","rule"}],
 *               "memory":[...the same...],
 *               "disk":null|{"usage_at_least","factor","max_gib":n|null,"requires_linear_growth","rule"},
 *               "idle":null|{"cpu_below","memory_below","rule"}},
 *      "vms":[{"name","role","state",
 *              "allocation":{"vcpus","memory_gib","system_disk_gib","data_disk_gib"},
 *              "days",
 *              "cpu":null|{"avg","peak","samples"}, "memory":null|{...the same...},
 *              "disk":null|{"usage","used_gib","slope","r2","linear","disk":"data_disk_gib"|"system_disk_gib"},
 *              "daily":{"cpu":[n|null, one per day of the period],"memory":[...],"disk":[...]},
 *              "recommendation":{"vcpus"|"memory_gib"|"system_disk_gib"|"data_disk_gib":
 *                                    null|{"before","after","rule","reason"},
 *                                "skipped":[{"dimension","rule","reason"}]},
 *              "idle":bool, "rules":["R-RS1",...]}],
 *      "totals":{"vms","vcpus","memory_gib","disk_gib","idle","changes",
 *                "after":{"vcpus","memory_gib","disk_gib"}}}],
 *    "totals":{"systems", ...the same as a system's...}}
 *
 * A pack without bands (regulated false) has "cpu" and "memory" [] and
 * "disk" and "idle" null: no shading, no recommendations.
 */
#pragma once

#include <cJSON.h>

#include "buf.h"
#include "gc/error.h"

#define REPORT_SCHEMA "govcloud-report/1"
/* Days in a report's period: a month, or a trial of up to a year. */
#define REPORT_DAYS_MAX 366

/*
 * CSV (RFC 4180: CRLF line ends, a field quoted where it holds a comma, a
 * quote or a line break), UTF-8 with a byte order mark. One header row of
 * stable English names:
 *
 *   unit,system,vm,role,vcpus,memory_gib,system_disk_gib,data_disk_gib,days,
 *   cpu_avg,cpu_peak,memory_avg,memory_peak,disk_usage,disk_used_gib,
 *   disk_trend_pp_per_day,disk_r2,disk_linear,recommended_vcpus,
 *   recommended_memory_gib,recommended_disk,rules,idle,reasons
 *
 * then one row per VM, after each system's VMs its total row, and last the
 * unit's. A total row has an empty vm and role "system total" or "unit
 * total" (system empty too for the unit); its allocation columns are the
 * sums, recommended_* the allocation after the recommendations
 * ("disk_gib=680"), idle the number of idle VMs, reasons the counts
 * ("systems=2; vms=4; changes=5"). An empty cell is no data (for
 * recommended_*: no change); numbers are as the model has them (11.2, not
 * 11.20); disk_linear and idle are true/false; rules are joined by spaces,
 * reasons by " | ".
 *
 * -EINVAL with err naming the member ("systems[1].vms[0].cpu.avg") where
 * the model is malformed; -ENOBUFS past out's cap. out is left as it was
 * on failure.
 */
int report_csv(const cJSON *report, struct gc_buf *out, struct gc_error *err);

/*
 * The printable page: UTF-8 HTML5, A4 landscape, self-contained (inline
 * CSS and SVG; no scripts, no fonts, nothing fetched). A header with the
 * unit, month, period, due date and the unit's totals; a legend; per system
 * (each on a new page) its bands, a table of its VMs with totals, and per
 * VM a chart: average and peak CPU and memory and disk usage as bars on a
 * 0-100 % axis over the pack's bands (each labelled with its rule and
 * factor, "R-RS1 ×0.5"), and the month's daily CPU, memory and disk with
 * the idle thresholds and the disk line. Idle VMs are marked 闲置 (R-RS7).
 * Errors as report_csv().
 */
int report_html(const cJSON *report, struct gc_buf *out, struct gc_error *err);
