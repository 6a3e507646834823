/* Memory policy "anon": private anonymous memory, faulted in lazily, in 4 KiB pages. */
#include "mem_internal.h"

const struct mem_policy_ops mem_policy_anon = {
    .name = "anon",
    .help = "private anonymous memory, faulted in on first touch, 4 KiB pages (no THP)",
    .page_size = MEM_PAGE_SIZE,
    .alloc = mem_anon_alloc,
    .discard = mem_anon_discard,
    .free = mem_anon_free,
};
