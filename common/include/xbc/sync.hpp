// SPDX-License-Identifier: GPL-2.0-only
// Locks and atomics as types, so the rules live in declarations that clang
// checks rather than in comments:
//
//   Mutex, IrqSpinLock   own their kapi handle (created fallibly, destroyed
//                        by the destructor); lock/unlock are annotated
//   MutexGuard,          scoped holders
//   IrqSpinGuard
//   Guarded<T, Lock>     data reachable only through with(fn), under its lock
//   Atomic<T>            the one inter-thread atomic; its methods name the
//                        memory order, so every access says what it pairs with
//
// Fields a lock protects are declared XBC_GUARDED_BY(lock_) and functions
// that expect it held XBC_REQUIRES(lock_). clang's -Wthread-safety (the
// `tsa` layer of scripts/check) then rejects any access without the lock;
// under g++ (the kernel build) the annotations expand to nothing.
//
// Memory the peer shares (rings, grants) is not an Atomic: it is read with
// read_once (xbc/base.hpp) and then validated.
#pragma once

#include "kapi/sync.h"
#include "xbc/memory.hpp"
#include "xbc/result.hpp"

#if defined(__clang__)
#define XBC_TSA(x) __attribute__((x))
#else
#define XBC_TSA(x)
#endif

#define XBC_CAPABILITY(name) XBC_TSA(capability(name))
#define XBC_SCOPED_CAPABILITY XBC_TSA(scoped_lockable)
#define XBC_GUARDED_BY(lock) XBC_TSA(guarded_by(lock))
#define XBC_PT_GUARDED_BY(lock) XBC_TSA(pt_guarded_by(lock))
#define XBC_REQUIRES(...) XBC_TSA(requires_capability(__VA_ARGS__))
#define XBC_EXCLUDES(...) XBC_TSA(locks_excluded(__VA_ARGS__))
#define XBC_ACQUIRE(...) XBC_TSA(acquire_capability(__VA_ARGS__))
#define XBC_RELEASE(...) XBC_TSA(release_capability(__VA_ARGS__))
#define XBC_TRY_ACQUIRE(...) XBC_TSA(try_acquire_capability(__VA_ARGS__))
#define XBC_RETURN_CAPABILITY(x) XBC_TSA(lock_returned(x))
// For the few functions whose locking clang cannot follow (a lock taken in
// one function and released in another); each use says why.
#define XBC_NO_THREAD_SAFETY_ANALYSIS XBC_TSA(no_thread_safety_analysis)

namespace xbc {

// The one owner of a kapi lock handle: created by the shim (the lock's size
// depends on kernel debug options), destroyed with the owner, movable until
// used, never copied.
template <typename Handle, Handle *(*Create)(const char *, kapi_gfp) noexcept,
	  void (*Destroy)(Handle *) noexcept>
class KapiLockHandle {
public:
	KapiLockHandle(KapiLockHandle &&o) noexcept : h_(o.h_) { o.h_ = nullptr; }
	KapiLockHandle &operator=(KapiLockHandle &&) = delete;
	KapiLockHandle(const KapiLockHandle &) = delete;
	~KapiLockHandle() { Destroy(h_); }

protected:
	// @name labels the lock for lockdep; must be a string literal.
	template <typename Lock> [[nodiscard]] static Result<Lock> make(const char *name, Gfp gfp) noexcept
	{
		Handle *h = Create(name, to_kapi(gfp));
		if (!h)
			return Status::error(err::kNoMem);
		return Lock(h);
	}
	explicit KapiLockHandle(Handle *h) noexcept : h_(h) {}
	Handle *h_;
};

// A sleeping mutex (process context only).
class XBC_CAPABILITY("mutex") Mutex
	: KapiLockHandle<kapi_mutex, kapi_mutex_create, kapi_mutex_destroy> {
public:
	[[nodiscard]] static Result<Mutex> create(const char *name, Gfp gfp = Gfp::kKernel) noexcept
	{
		return make<Mutex>(name, gfp);
	}

	void lock() noexcept XBC_ACQUIRE() { kapi_mutex_lock(h_); }
	void unlock() noexcept XBC_RELEASE() { kapi_mutex_unlock(h_); }
	[[nodiscard]] bool try_lock() noexcept XBC_TRY_ACQUIRE(true) { return kapi_mutex_trylock(h_); }

private:
	friend KapiLockHandle;
	using KapiLockHandle::KapiLockHandle;
};

// A spinlock taken with interrupts saved and disabled (spin_lock_irqsave):
// usable from irq context and from any context that races with one.
class XBC_CAPABILITY("spinlock") IrqSpinLock
	: KapiLockHandle<kapi_spinlock, kapi_spinlock_create, kapi_spinlock_destroy> {
public:
	[[nodiscard]] static Result<IrqSpinLock> create(const char *name, Gfp gfp = Gfp::kKernel) noexcept
	{
		return make<IrqSpinLock>(name, gfp);
	}

	// Returns the saved interrupt state unlock() restores.
	[[nodiscard]] unsigned long lock() noexcept XBC_ACQUIRE() { return kapi_spin_lock_irqsave(h_); }
	void unlock(unsigned long flags) noexcept XBC_RELEASE() { kapi_spin_unlock_irqrestore(h_, flags); }

private:
	friend KapiLockHandle;
	using KapiLockHandle::KapiLockHandle;
};

class XBC_SCOPED_CAPABILITY MutexGuard : Pinned {
public:
	explicit MutexGuard(Mutex &m) noexcept XBC_ACQUIRE(m) : m_(m) { m_.lock(); }
	~MutexGuard() XBC_RELEASE() { m_.unlock(); }

private:
	Mutex &m_;
};

class XBC_SCOPED_CAPABILITY IrqSpinGuard : Pinned {
public:
	explicit IrqSpinGuard(IrqSpinLock &l) noexcept XBC_ACQUIRE(l) : l_(l), flags_(l_.lock()) {}
	~IrqSpinGuard() XBC_RELEASE() { l_.unlock(flags_); }

private:
	IrqSpinLock &l_;
	const unsigned long flags_;
};

template <typename Lock> struct GuardFor;
template <> struct GuardFor<Mutex> { using Type = MutexGuard; };
template <> struct GuardFor<IrqSpinLock> { using Type = IrqSpinGuard; };

// A value and the lock that protects it: the value is reachable only
// through with(), which holds the lock for the call.
template <typename T, typename Lock> class Guarded : Pinned {
public:
	template <typename... Args>
	explicit Guarded(Lock &&lock, Args &&...args) noexcept
		: lock_(move(lock)), value_(forward<Args>(args)...)
	{
	}

	// Calls fn(T &) with the lock held; returns what fn returns.
	template <typename Fn> decltype(auto) with(Fn &&fn) noexcept
	{
		typename GuardFor<Lock>::Type guard(lock_);
		return fn(value_);
	}

	// Calls fn(T &) if the lock is free now (a reclaim callback must not
	// wait for it); false if it was not. Lock types with try_lock() only.
	template <typename Fn> bool try_with(Fn &&fn) noexcept
	{
		if (!lock_.try_lock())
			return false;
		fn(value_);
		lock_.unlock();
		return true;
	}

	// For a caller that must reach the value with the lock already held
	// (a destructor, with no other user left).
	T &unguarded_for_teardown() noexcept XBC_NO_THREAD_SAFETY_ANALYSIS { return value_; }

private:
	Lock lock_;
	T value_ XBC_GUARDED_BY(lock_);
};

// The one atomic for data shared between threads, irqs and completions.
// Each method names its ordering; pair a store() with a load() (release,
// acquire) when the value publishes other memory, use the _relaxed forms
// for a flag or counter that orders nothing else.
namespace detail {
// Enums are kept as their underlying integer: clang's __atomic builtins take
// only integers and pointers.
template <typename T, bool kEnum = __is_enum(T)> struct AtomicRep { using Type = T; };
template <typename T> struct AtomicRep<T, true> { using Type = __underlying_type(T); };
} // namespace detail

template <typename T> class Atomic {
	static_assert(__is_trivially_copyable(T));
	static_assert(sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8,
		      "wider atomics are not lock-free in the kernel");
	using Rep = typename detail::AtomicRep<T>::Type;

public:
	constexpr Atomic() noexcept : v_() {}
	constexpr explicit Atomic(T v) noexcept : v_(Rep(v)) {}
	Atomic(const Atomic &) = delete;
	Atomic &operator=(const Atomic &) = delete;

	[[nodiscard]] T load() const noexcept { return T(__atomic_load_n(&v_, __ATOMIC_ACQUIRE)); }
	[[nodiscard]] T load_relaxed() const noexcept { return T(__atomic_load_n(&v_, __ATOMIC_RELAXED)); }
	void store(T v) noexcept { __atomic_store_n(&v_, Rep(v), __ATOMIC_RELEASE); }
	void store_relaxed(T v) noexcept { __atomic_store_n(&v_, Rep(v), __ATOMIC_RELAXED); }
	[[nodiscard]] T exchange(T v) noexcept
	{
		return T(__atomic_exchange_n(&v_, Rep(v), __ATOMIC_ACQ_REL));
	}
	// Read-modify-write, full acquire/release: return the new value.
	T add(T n) noexcept { return __atomic_add_fetch(&v_, n, __ATOMIC_ACQ_REL); }
	T sub(T n) noexcept { return __atomic_sub_fetch(&v_, n, __ATOMIC_ACQ_REL); }
	// For a value whose writers are serialised (by a lock, or one
	// context): a plain relaxed update, no locked instruction; readers
	// elsewhere see a whole value.
	void add_serialised(T n) noexcept { store_relaxed(T(load_relaxed() + n)); }
	void sub_serialised(T n) noexcept { store_relaxed(T(load_relaxed() - n)); }

private:
	Rep v_;
};

// A full barrier between one context's stores and its later loads (the
// "store flag, then check state" handshakes; smp_mb).
inline void full_fence() noexcept
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

} // namespace xbc
