/* Unit tests of split virtqueues on plain memory: chains, wrap, indirect, event index, hostile
 * rings. */
#include <stdint.h>

#include "kvmlab/virtio.h"
#include "unit.h"

#define RAM   (64u << 10)
#define DESC  0x1000
#define AVAIL 0x2000
#define USED  0x3000
#define QSIZE 8

struct tq {
	struct gmem mem;
	uint8_t *ram;
	struct virtq vq;
	uint16_t avail_idx;
};

static void tq_init(struct tq *t, uint64_t features)
{
	struct errbuf e;

	memset(t, 0, sizeof(*t));
	t->ram = calloc(1, RAM);
	CHECK(t->ram);
	CHECK(gmem_add(&t->mem, 0, RAM, t->ram, 0, &e) == 0);
	CHECK(virtq_init(&t->vq, &t->mem, QSIZE, DESC, AVAIL, USED, features, &e) == 0);
}

static void tq_free(struct tq *t)
{
	free(t->ram);
}

static void desc(struct tq *t, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next)
{
	uint8_t *d = t->ram + table + 16 * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static void publish(struct tq *t, uint16_t head)
{
	memcpy(t->ram + AVAIL + 4 + 2 * (t->avail_idx % QSIZE), &head, 2);
	t->avail_idx++;
	memcpy(t->ram + AVAIL + 2, &t->avail_idx, 2);
}

static uint16_t rd16(struct tq *t, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, t->ram + gpa, 2);
	return v;
}

static uint32_t rd32(struct tq *t, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, t->ram + gpa, 4);
	return v;
}

static int pop(struct tq *t, struct virtq_elem *el, char *why)
{
	struct errbuf e = {""};
	int r = virtq_pop(&t->vq, el, &e);

	if (why)
		snprintf(why, ERR_MSG_LEN, "%s", e.msg);
	return r;
}

TEST(virtq_pops_a_chain_and_pushes_it_back)
{
	static struct virtq_elem el;
	struct tq t;
	struct errbuf e;
	uint8_t buf[8];

	tq_init(&t, 0);
	CHECK_EQ(pop(&t, &el, NULL), 0);
	memcpy(t.ram + 0x8000, "request!", 8);
	desc(&t, DESC, 3, 0x8000, 8, VIRTQ_DESC_F_NEXT, 5);
	desc(&t, DESC, 5, 0x9000, 0, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 6); /* dropped */
	desc(&t, DESC, 6, 0x9000, 100, VIRTQ_DESC_F_WRITE, 0);
	publish(&t, 3);
	CHECK(virtq_pending(&t.vq));
	CHECK_EQ(pop(&t, &el, NULL), 1);
	CHECK_EQ(el.head, 3);
	CHECK_EQ(el.nout, 1);
	CHECK_EQ(el.nin, 1);
	CHECK_EQ(el.out_len, 8);
	CHECK_EQ(el.in_len, 100);
	CHECK_EQ(virtq_elem_read(&el, 4, buf, 8), 4);
	CHECK(!memcmp(buf, "est!", 4));
	CHECK_EQ(virtq_elem_write(&el, 98, "xyz", 3), 2);
	CHECK(!memcmp(t.ram + 0x9000 + 98, "xy", 2));
	CHECK(!virtq_pending(&t.vq));
	CHECK(virtq_push(&t.vq, &el, 1000, &e) == 0); /* clamped to the writable bytes */
	CHECK_EQ(rd16(&t, USED + 2), 1);
	CHECK_EQ(rd32(&t, USED + 4), 3);
	CHECK_EQ(rd32(&t, USED + 8), 100);
	tq_free(&t);
}

TEST(virtq_ring_indices_wrap_around_16_bits)
{
	static struct virtq_elem el;
	struct tq t;
	struct errbuf e;

	tq_init(&t, 0);
	t.avail_idx = t.vq.last_avail = t.vq.used_idx = 65530;
	memcpy(t.ram + USED + 2, &t.vq.used_idx, 2);
	desc(&t, DESC, 0, 0x8000, 16, 0, 0);
	for (unsigned i = 0; i < 3 * QSIZE; i++) {
		publish(&t, 0);
		CHECK_EQ(pop(&t, &el, NULL), 1);
		CHECK(virtq_push(&t.vq, &el, 0, &e) == 0);
		CHECK_EQ(pop(&t, &el, NULL), 0);
	}
	CHECK_EQ(rd16(&t, USED + 2), (uint16_t)(65530 + 3 * QSIZE));
	tq_free(&t);
}

TEST(virtq_follows_an_indirect_table)
{
	static struct virtq_elem el;
	struct tq t;
	char why[ERR_MSG_LEN];

	tq_init(&t, VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC));
	desc(&t, 0x4000, 0, 0x8000, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(&t, 0x4000, 1, 0x8100, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	desc(&t, 0x4000, 2, 0x8400, 1, VIRTQ_DESC_F_WRITE, 0);
	desc(&t, DESC, 0, 0x4000, 48, VIRTQ_DESC_F_INDIRECT, 0);
	publish(&t, 0);
	CHECK_EQ(pop(&t, &el, why), 1);
	CHECK_EQ(el.nout, 1);
	CHECK_EQ(el.nin, 2);
	CHECK_EQ(el.in_len, 513);
	tq_free(&t);
}

/* One hostile ring per case: each pop fails with a report, and nothing is consumed. */
static void expect_refused(struct tq *t, const char *needle)
{
	static struct virtq_elem el;
	char why[ERR_MSG_LEN];
	uint16_t before = t->vq.last_avail;

	CHECK_EQ(pop(t, &el, why), -1);
	CHECK_CONTAINS(why, needle);
	CHECK_EQ(t->vq.last_avail, before);
}

TEST(virtq_refuses_malformed_chains)
{
	struct tq t;
	struct errbuf e;

	tq_init(&t, 0);
	desc(&t, DESC, 0, 0x8000, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(&t, DESC, 1, 0x8000, 16, VIRTQ_DESC_F_NEXT, 0); /* 0 -> 1 -> 0 ... */
	publish(&t, 0);
	expect_refused(&t, "loops");
	tq_free(&t);

	tq_init(&t, 0);
	publish(&t, QSIZE); /* head past the table */
	expect_refused(&t, "names descriptor");
	tq_free(&t);

	tq_init(&t, 0);
	desc(&t, DESC, 0, 0x8000, 16, VIRTQ_DESC_F_NEXT, 200);
	publish(&t, 0);
	expect_refused(&t, "past the queue");
	tq_free(&t);

	tq_init(&t, 0);
	t.avail_idx = QSIZE + 1;
	memcpy(t.ram + AVAIL + 2, &t.avail_idx, 2);
	expect_refused(&t, "ahead");
	tq_free(&t);

	tq_init(&t, 0);
	desc(&t, DESC, 0, 0x8000, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	desc(&t, DESC, 1, 0x8000, 16, 0, 0);
	publish(&t, 0);
	expect_refused(&t, "readable buffer after a writable");
	tq_free(&t);

	tq_init(&t, 0);
	desc(&t, DESC, 0, RAM - 8, 16, 0, 0); /* crosses the end of RAM */
	publish(&t, 0);
	expect_refused(&t, "not in guest RAM");
	tq_free(&t);

	tq_init(&t, 0);
	desc(&t, DESC, 0, UINT64_MAX - 4, 16, 0, 0); /* wraps */
	publish(&t, 0);
	expect_refused(&t, "not in guest RAM");
	tq_free(&t);

	tq_init(&t, 0); /* indirect without the feature */
	desc(&t, DESC, 0, 0x4000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	publish(&t, 0);
	expect_refused(&t, "without VIRTIO_F_INDIRECT_DESC");
	tq_free(&t);

	tq_init(&t, VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC));
	desc(&t, 0x4000, 0, 0x4000, 16, VIRTQ_DESC_F_INDIRECT, 0); /* points at itself */
	desc(&t, DESC, 0, 0x4000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	publish(&t, 0);
	expect_refused(&t, "inside an indirect table");
	tq_free(&t);

	tq_init(&t, VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC));
	desc(&t, DESC, 0, 0x4000, 24, VIRTQ_DESC_F_INDIRECT, 0);
	publish(&t, 0);
	expect_refused(&t, "multiple of 16");
	tq_free(&t);

	tq_init(&t, VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC));
	desc(&t, 0x4000, 0, 0x8000, 16, VIRTQ_DESC_F_NEXT, 0); /* loop inside the table */
	desc(&t, DESC, 0, 0x4000, 32, VIRTQ_DESC_F_INDIRECT, 0);
	publish(&t, 0);
	expect_refused(&t, "loops");
	tq_free(&t);

	tq_init(&t, 0);
	CHECK(virtq_init(&t.vq, &t.mem, 6, DESC, AVAIL, USED, 0, &e) == -1);
	CHECK(virtq_init(&t.vq, &t.mem, 8, DESC + 8, AVAIL, USED, 0, &e) == -1);
	CHECK(virtq_init(&t.vq, &t.mem, 256, DESC, AVAIL, RAM - 8, 0, &e) == -1);
	tq_free(&t);
}

TEST(virtq_refuses_writable_buffers_in_read_only_memory)
{
	static uint8_t rom[4096];
	struct tq t;
	struct errbuf e;

	tq_init(&t, 0);
	CHECK(gmem_add(&t.mem, 0x100000, sizeof(rom), rom, GMEM_READONLY, &e) == 0);
	desc(&t, DESC, 0, 0x100000, 16, VIRTQ_DESC_F_WRITE, 0);
	publish(&t, 0);
	expect_refused(&t, "writable guest RAM");
	tq_free(&t);
}

TEST(virtq_event_index_suppresses_interrupts_and_kicks)
{
	static struct virtq_elem el;
	uint16_t used_event;
	struct tq t;
	struct errbuf e;

	tq_init(&t, VIRTIO_BIT(VIRTIO_F_EVENT_IDX));
	desc(&t, DESC, 0, 0x8000, 16, 0, 0);
	used_event = 1; /* interrupt when used idx passes 1, i.e. after the second */
	memcpy(t.ram + AVAIL + 4 + 2 * QSIZE, &used_event, 2);
	for (unsigned i = 0; i < 3; i++)
		publish(&t, 0);
	CHECK_EQ(pop(&t, &el, NULL), 1);
	CHECK(virtq_push(&t.vq, &el, 0, &e) == 0);
	CHECK(virtq_should_signal(&t.vq));  /* the first signal decision always interrupts */
	CHECK(!virtq_should_signal(&t.vq)); /* nothing new */
	CHECK_EQ(pop(&t, &el, NULL), 1);
	CHECK(virtq_push(&t.vq, &el, 0, &e) == 0);
	CHECK(virtq_should_signal(&t.vq)); /* used idx 1 -> 2 crosses used_event 1 */
	CHECK_EQ(pop(&t, &el, NULL), 1);
	CHECK(virtq_push(&t.vq, &el, 0, &e) == 0);
	CHECK(!virtq_should_signal(&t.vq)); /* 2 -> 3 does not */
	/* Kicks: enabling writes avail_event = our next index; nothing is pending. */
	CHECK(!virtq_enable_notify(&t.vq));
	CHECK_EQ(rd16(&t, USED + 4 + 8 * QSIZE), 3);
	publish(&t, 0);
	CHECK(virtq_enable_notify(&t.vq)); /* arrived meanwhile: process again */
	tq_free(&t);
}

TEST(virtq_without_event_index_uses_the_ring_flags)
{
	static struct virtq_elem el;
	uint16_t flags = 1; /* VRING_AVAIL_F_NO_INTERRUPT */
	struct tq t;
	struct errbuf e;

	tq_init(&t, 0);
	desc(&t, DESC, 0, 0x8000, 16, 0, 0);
	publish(&t, 0);
	publish(&t, 0);
	CHECK_EQ(pop(&t, &el, NULL), 1);
	CHECK(virtq_push(&t.vq, &el, 0, &e) == 0);
	CHECK(virtq_should_signal(&t.vq));
	memcpy(t.ram + AVAIL, &flags, 2);
	CHECK_EQ(pop(&t, &el, NULL), 1);
	CHECK(virtq_push(&t.vq, &el, 0, &e) == 0);
	CHECK(!virtq_should_signal(&t.vq));
	virtq_disable_notify(&t.vq);
	CHECK_EQ(rd16(&t, USED), 1); /* VRING_USED_F_NO_NOTIFY */
	CHECK(!virtq_enable_notify(&t.vq));
	CHECK_EQ(rd16(&t, USED), 0);
	tq_free(&t);
}
