/* Control API commands: each is one function plus one line in control_commands[]. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "kvmlab/balloon.h"
#include "kvmlab/control.h"
#include "kvmlab/mem.h"
#include "kvmlab/stats.h"
#include "kvmlab/virtio.h"
#include "kvmlab/vm.h"

#define ARG CONTROL_ARG

static void add_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

/* Seconds to the millisecond, printed as such rather than as the nearest binary double. */
static void add_seconds(struct json_object *o, const char *key, double s)
{
	char text[32];

	snprintf(text, sizeof(text), "%.3f", s);
	json_object_object_add(o, key, json_object_new_double_s(s, text));
}

static const char *control_state(struct vm *vm)
{
	enum vm_state s = vm_get_state(vm);

	return s != VM_STOPPED && machine_stopping(&vm->m) ? "stopping" : vm_state_name(s);
}

static double control_uptime(const struct control_ctx *ctx)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - ctx->started.tv_sec) +
	       (double)(now.tv_nsec - ctx->started.tv_nsec) / 1e9;
}

/* "balloon": {...} in reply when the VM has a balloon (with details: every counter). */
static int balloon_json(struct control_ctx *ctx, struct json_object *reply, bool details)
{
	struct json_object *o;
	struct balloon_info b;
	struct errbuf e;

	if (virtio_balloon_info(&ctx->vm->m, &b, &e))
		return -1;
	o = json_object_new_object();
	add_u64(o, "target_mib", b.target_pages >> 8);
	add_u64(o, "actual_mib", b.actual_pages >> 8);
	if (details) {
		add_u64(o, "target_pages", b.target_pages);
		add_u64(o, "actual_pages", b.actual_pages);
		add_u64(o, "inflated_pages", b.inflated);
		add_u64(o, "deflated_pages", b.deflated);
		add_u64(o, "refused_pages", b.refused);
		add_u64(o, "discarded_bytes", b.discarded);
		add_u64(o, "discard_errors", b.discard_errors);
		if (b.discard_errors)
			json_object_object_add(o, "last_error",
					       json_object_new_string(b.last_error));
	}
	json_object_object_add(reply, "balloon", o);
	return 0;
}

static int cmd_status(struct control_ctx *ctx, const struct control_args *a,
		      struct json_object *reply, struct errbuf *e)
{
	struct vm *vm = ctx->vm;
	uint64_t exits = 0;

	/* Each vCPU thread bumps its own counter; a relaxed read is a consistent-enough sum. */
	for (unsigned i = 0; i < vm->nvcpus; i++)
		exits += atomic_load_explicit(&vm->vcpus[i].exits, memory_order_relaxed);
	json_object_object_add(reply, "name",
			       vm->cfg.name ? json_object_new_string(vm->cfg.name) : NULL);
	json_object_object_add(reply, "state", json_object_new_string(control_state(vm)));
	json_object_object_add(reply, "pid", json_object_new_int64(getpid()));
	add_u64(reply, "vcpus", vm->nvcpus);
	add_u64(reply, "memory", vm->cfg.mem_size);
	json_object_object_add(
	    reply, "mem_policy",
	    json_object_new_string(vm->cfg.mem_policy ? vm->cfg.mem_policy : "anon"));
	add_seconds(reply, "uptime", control_uptime(ctx));
	add_u64(reply, "exits", exits);
	json_object_object_add(reply, "stats", json_object_new_boolean(ctx->stats_enabled));
	balloon_json(ctx, reply, false);
	return 0;
}

static int cmd_pause(struct control_ctx *ctx, const struct control_args *a,
		     struct json_object *reply, struct errbuf *e)
{
	if (vm_pause(ctx->vm, e))
		return -1;
	json_object_object_add(reply, "state", json_object_new_string(control_state(ctx->vm)));
	return 0;
}

static int cmd_resume(struct control_ctx *ctx, const struct control_args *a,
		      struct json_object *reply, struct errbuf *e)
{
	if (vm_resume(ctx->vm, e))
		return -1;
	json_object_object_add(reply, "state", json_object_new_string(control_state(ctx->vm)));
	return 0;
}

static int cmd_stop(struct control_ctx *ctx, const struct control_args *a,
		    struct json_object *reply, struct errbuf *e)
{
	vm_request_stop(ctx->vm, "stopped through the control API");
	json_object_object_add(reply, "state", json_object_new_string(control_state(ctx->vm)));
	return 0;
}

/* {"IO":{"count":n,"total_ns":t,"hist":[...]},...} for the reasons that occurred. */
static struct json_object *stats_reasons_json(const struct stats_snapshot *s)
{
	struct json_object *o = json_object_new_object();

	for (unsigned r = 0; r < EXIT_TABLE_SIZE; r++) {
		const struct stats_reason *sr = &s->reason[r];
		struct json_object *one, *hist;
		unsigned top = STATS_HIST_BUCKETS;

		if (!sr->count)
			continue;
		while (top > 0 && !sr->hist[top - 1])
			top--;
		one = json_object_new_object();
		hist = json_object_new_array_ext((int)top);
		for (unsigned b = 0; b < top; b++)
			json_object_array_add(hist, json_object_new_uint64(sr->hist[b]));
		add_u64(one, "count", sr->count);
		add_u64(one, "total_ns", sr->total_ns);
		json_object_object_add(one, "hist", hist);
		json_object_object_add(o, exit_reason_name(r), one);
	}
	return o;
}

static struct json_object *stats_addrs_json(const struct stats_addr *addrs, unsigned n)
{
	struct json_object *arr = json_object_new_array_ext((int)n);

	for (unsigned i = 0; i < n; i++) {
		struct json_object *one = json_object_new_object();

		add_u64(one, "addr", addrs[i].addr);
		json_object_object_add(one, "name",
				       json_object_new_string(addrs[i].name ? addrs[i].name : "?"));
		add_u64(one, "count", addrs[i].count);
		json_object_array_add(arr, one);
	}
	return arr;
}

static int cmd_stats(struct control_ctx *ctx, const struct control_args *a,
		     struct json_object *reply, struct errbuf *e)
{
	struct stats_snapshot *s;
	struct json_object *unclaimed;

	if ((a->given & ARG(CONTROL_ARG_ENABLE)) && a->enable && !ctx->stats_enabled) {
		if (stats_enable(ctx->vm, e))
			return -1;
		ctx->stats_enabled = true;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(e, "out of memory reading statistics");
	if (stats_read(ctx->vm, s, e)) {
		free(s);
		return -1;
	}
	if ((a->given & ARG(CONTROL_ARG_ENABLE)) && !a->enable && ctx->stats_enabled) {
		stats_disable(ctx->vm);
		ctx->stats_enabled = false;
	}
	json_object_object_add(reply, "enabled", json_object_new_boolean(ctx->stats_enabled));
	json_object_object_add(reply, "exits", stats_reasons_json(s));
	json_object_object_add(reply, "pio", stats_addrs_json(s->pio, s->npio));
	json_object_object_add(reply, "mmio", stats_addrs_json(s->mmio, s->nmmio));
	add_u64(reply, "other_pio", s->other_pio);
	add_u64(reply, "other_mmio", s->other_mmio);
	unclaimed = json_object_new_object();
	add_u64(unclaimed, "pio_reads", s->unclaimed_pio_reads);
	add_u64(unclaimed, "pio_writes", s->unclaimed_pio_writes);
	add_u64(unclaimed, "mmio_reads", s->unclaimed_mmio_reads);
	add_u64(unclaimed, "mmio_writes", s->unclaimed_mmio_writes);
	json_object_object_add(reply, "unclaimed", unclaimed);
	free(s);
	return 0;
}

static int cmd_mem_add(struct control_ctx *ctx, const struct control_args *a,
		       struct json_object *reply, struct errbuf *e)
{
	uint32_t flags =
	    (a->readonly ? MEM_REGION_READONLY : 0) | (a->dirty_log ? MEM_REGION_DIRTY_LOG : 0);

	if (vm_mem_region_add(ctx->vm, a->gpa, a->size, flags, e))
		return -1;
	add_u64(reply, "gpa", a->gpa);
	add_u64(reply, "size", a->size);
	return 0;
}

static int cmd_mem_remove(struct control_ctx *ctx, const struct control_args *a,
			  struct json_object *reply, struct errbuf *e)
{
	if (vm_mem_region_remove(ctx->vm, a->gpa, e))
		return -1;
	add_u64(reply, "gpa", a->gpa);
	return 0;
}

/* Changes scheduler parameters while the VM runs, through the policy's set hook
 * (docs/scheduling.md); keys are applied in order and a refusal stops there. */
static int cmd_sched_set(struct control_ctx *ctx, const struct control_args *a,
			 struct json_object *reply, struct errbuf *e)
{
	const struct {
		enum control_arg arg;
		const char *key;
		uint64_t value;
	} keys[] = {{CONTROL_ARG_WEIGHT, "weight", a->weight},
		    {CONTROL_ARG_CAP, "cap", a->cap},
		    {CONTROL_ARG_SLICE, "slice", a->slice}};
	const struct sched_ops *s = ctx->vm->sched;
	int vcpu = -1;
	char value[24];

	if (a->given & ARG(CONTROL_ARG_VCPU)) {
		if (a->vcpu >= ctx->vm->nvcpus)
			return err_set(e, "no vCPU %llu (the VM has %u)",
				       (unsigned long long)a->vcpu, ctx->vm->nvcpus);
		vcpu = (int)a->vcpu;
	}
	if (!s->set)
		return err_set(e, "scheduler %s has no parameters to change", s->name);
	if (!(a->given & (ARG(CONTROL_ARG_WEIGHT) | ARG(CONTROL_ARG_CAP) | ARG(CONTROL_ARG_SLICE))))
		return err_set(e, "sched-set: give weight, cap or slice");
	for (unsigned i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!(a->given & ARG(keys[i].arg)))
			continue;
		snprintf(value, sizeof(value), "%llu", (unsigned long long)keys[i].value);
		if (s->set(ctx->vm->sched_state, vcpu, keys[i].key, value, e))
			return -1;
		add_u64(reply, keys[i].key, keys[i].value);
	}
	json_object_object_add(reply, "sched", json_object_new_string(s->name));
	json_object_object_add(reply, "vcpu",
			       vcpu < 0 ? json_object_new_string("all") : json_object_new_int(vcpu));
	return 0;
}

/* A disk's size changed on the host (or is changed here): the guest gets a config interrupt. */
static int cmd_disk_resize(struct control_ctx *ctx, const struct control_args *a,
			   struct json_object *reply, struct errbuf *e)
{
	uint64_t sectors;

	if (a->disk > UINT32_MAX)
		return err_set(e, "no disk %llu", (unsigned long long)a->disk);
	if ((a->given & ARG(CONTROL_ARG_SIZE)) && a->size == 0)
		return err_set(e, "\"size\": a disk cannot shrink to nothing");
	if (virtio_blk_resize(&ctx->vm->m, (unsigned)a->disk,
			      (a->given & ARG(CONTROL_ARG_SIZE)) ? a->size : 0, &sectors, e))
		return -1;
	add_u64(reply, "disk", a->disk);
	add_u64(reply, "sectors", sectors);
	add_u64(reply, "size", sectors * 512);
	return 0;
}

/* Every virtio-mmio transport with its counters (docs/virtio.md). */
static int cmd_virtio(struct control_ctx *ctx, const struct control_args *a,
		      struct json_object *reply, struct errbuf *e)
{
	struct json_object *arr = json_object_new_array();
	struct virtio_mmio_info info;

	for (unsigned n = 0; virtio_mmio_info(&ctx->vm->m, n, &info) == 0; n++) {
		struct json_object *one = json_object_new_object();

		json_object_object_add(one, "name", json_object_new_string(info.name));
		add_u64(one, "device_id", info.device_id);
		add_u64(one, "base", info.base);
		add_u64(one, "gsi", info.gsi);
		add_u64(one, "status", info.status);
		json_object_object_add(one, "iothread", json_object_new_boolean(info.iothread));
		add_u64(one, "notify_exits", info.notify_exits);
		add_u64(one, "notify_events", info.notify_events);
		add_u64(one, "interrupts", info.interrupts);
		add_u64(one, "config_generation", info.config_changes);
		json_object_object_add(one, "error", json_object_new_string(info.error));
		json_object_array_add(arr, one);
	}
	json_object_object_add(reply, "devices", arr);
	return 0;
}

/* Sets the balloon's target (MiB the guest should give back) when given; reports it. */
static int cmd_balloon(struct control_ctx *ctx, const struct control_args *a,
		       struct json_object *reply, struct errbuf *e)
{
	if (a->given & ARG(CONTROL_ARG_TARGET_MIB)) {
		if (a->target_mib > UINT32_MAX >> 8)
			return err_set(e, "\"target_mib\": %llu MiB is more than a balloon holds",
				       (unsigned long long)a->target_mib);
		if (virtio_balloon_set_target(&ctx->vm->m, a->target_mib << 8, e))
			return -1;
	}
	return balloon_json(ctx, reply, true) ? err_set(e, "this VM has no balloon") : 0;
}

static int cmd_help(struct control_ctx *ctx, const struct control_args *a,
		    struct json_object *reply, struct errbuf *e)
{
	struct json_object *list = json_object_new_array();

	for (unsigned i = 0; i < control_ncommands; i++) {
		const struct control_command *c = &control_commands[i];
		struct json_object *one = json_object_new_object(), *args = json_object_new_array();

		for (unsigned k = 0; k < CONTROL_NARGS; k++)
			if (c->args & ARG(k))
				json_object_array_add(args,
						      json_object_new_string(control_arg_name(k)));
		json_object_object_add(one, "cmd", json_object_new_string(c->name));
		json_object_object_add(one, "args", args);
		json_object_object_add(one, "summary", json_object_new_string(c->summary));
		json_object_array_add(list, one);
	}
	json_object_object_add(reply, "commands", list);
	return 0;
}

const struct control_command control_commands[] = {
    {"status", 0, 0, cmd_status, "state, name, vCPUs, memory, uptime and exit count"},
    {"pause", 0, 0, cmd_pause, "pause every vCPU (running -> paused)"},
    {"resume", 0, 0, cmd_resume, "resume a paused VM (paused -> running)"},
    {"stop", 0, 0, cmd_stop, "stop the VM; kvmlab run then exits with status 0"},
    {"stats", ARG(CONTROL_ARG_ENABLE), 0, cmd_stats,
     "exit statistics; \"enable\": true/false turns counting on or off"},
    {"mem-add",
     ARG(CONTROL_ARG_GPA) | ARG(CONTROL_ARG_SIZE) | ARG(CONTROL_ARG_READONLY) |
	 ARG(CONTROL_ARG_DIRTY_LOG),
     ARG(CONTROL_ARG_GPA) | ARG(CONTROL_ARG_SIZE), cmd_mem_add, "add a guest memory region at gpa"},
    {"mem-remove", ARG(CONTROL_ARG_GPA), ARG(CONTROL_ARG_GPA), cmd_mem_remove,
     "remove the memory region added at gpa"},
    {"sched-set",
     ARG(CONTROL_ARG_VCPU) | ARG(CONTROL_ARG_WEIGHT) | ARG(CONTROL_ARG_CAP) | ARG(CONTROL_ARG_SLICE), 0,
     cmd_sched_set, "change the vCPU scheduler's weight, cap or slice (one vcpu, or all)"},
    {"balloon", ARG(CONTROL_ARG_TARGET_MIB), 0, cmd_balloon,
     "set the balloon's target (\"target_mib\": MiB the guest gives back); show it"},
    {"disk-resize", ARG(CONTROL_ARG_DISK) | ARG(CONTROL_ARG_SIZE), ARG(CONTROL_ARG_DISK),
     cmd_disk_resize, "re-read (or with \"size\", set) a disk's size; the guest is told"},
    {"virtio", 0, 0, cmd_virtio, "the virtio-mmio devices: address, GSI, status, kicks, irqs"},
    {"help", 0, 0, cmd_help, "list the commands and their arguments"},
};

const unsigned control_ncommands = sizeof(control_commands) / sizeof(control_commands[0]);
