/* Build-time limits of the guest runtime, shared by its C and assembly files. */
#ifndef GUEST_CONFIG_H
#define GUEST_CONFIG_H

#define GUEST_MAX_VCPUS	  64
#define GUEST_STACK_SHIFT 14 /* 16 KiB per vCPU */

#endif
