/* SPDX-License-Identifier: Apache-2.0 */
/* The helpers of hv.h that do not depend on a backend. */
#include <stdlib.h>
#include <string.h>

#include "hv.h"

void hv_labels_done(struct hv_labels *l) {
        if (!l)
                return;
        free(l->unit);
        free(l->system);
        free(l->role);
        free(l->pool);
        *l = (struct hv_labels) { 0 };
}

void hv_domain_done(struct hv_domain *d) {
        if (!d)
                return;
        free(d->name);
        free(d->title);
        hv_labels_done(&d->labels);
        *d = (struct hv_domain) { 0 };
}

void hv_domains_free(struct hv_domain *d, size_t n) {
        if (!d)
                return;
        for (size_t i = 0; i < n; i++)
                hv_domain_done(&d[i]);
        free(d);
}

void hv_spec_done(struct hv_spec *s) {
        if (!s)
                return;
        free(s->title);
        free(s->image);
        hv_labels_done(&s->labels);
        *s = (struct hv_spec) { 0 };
}

void hv_volume_done(struct hv_volume *v) {
        if (!v)
                return;
        free(v->path);
        free(v->pool);
        free(v->pool_dir);
        free(v->name);
        free(v->key);
        free(v->secret);
        free(v->attached);
        *v = (struct hv_volume) { 0 };
}

void hv_volumes_free(struct hv_volume *v, size_t n) {
        if (!v)
                return;
        for (size_t i = 0; i < n; i++)
                hv_volume_done(&v[i]);
        free(v);
}
