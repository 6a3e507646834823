# kvmbox helper package: kernel and initramfs caching, QEMU launch and port relaying, and the guest init.sh.
