/* A polled virtio-blk driver over virtio-mmio for freestanding test guests (one disk, one queue). */
#ifndef GUEST_VIRTIO_BLK_H
#define GUEST_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#define GUEST_VIRTIO_MMIO_BASE 0xd0000000ull /* kvmlab's first virtio-mmio window */
#define GUEST_BLK_SECTOR       512u

/*
 * Finds a virtio-blk device (virtio 1.x, version 2 registers) at base, resets
 * it, negotiates VERSION_1 and FLUSH, and sets up queue 0. Returns 0, or a
 * negative step number saying what was wrong (-1 no device, -2 not block,
 * -3 no VERSION_1, -4 FEATURES_OK refused, -5 queue unusable). Interrupts are
 * not used: requests are polled, so the guest needs no IOAPIC set-up.
 */
int vblk_init(uint64_t base);

/* Sectors of the disk, from its config space. */
uint64_t vblk_capacity(void);

/* One request each; return the device's status byte (0 is VIRTIO_BLK_S_OK) or
 * -1 when the device did not answer. buf must lie in identity-mapped RAM. */
int vblk_read(uint64_t sector, void *buf, uint32_t len);
int vblk_write(uint64_t sector, const void *buf, uint32_t len);
int vblk_flush(void);

#endif
