/* SPDX-License-Identifier: Apache-2.0 */
#include "gcctl.h"

const struct gcctl_verb gcctl_doc_verbs[] = {
        {}
};
