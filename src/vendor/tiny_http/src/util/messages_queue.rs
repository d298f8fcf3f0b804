use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

enum Control<T> {
    Elem(T),
    Unblock,
}

pub struct MessagesQueue<T>
where
    T: Send,
{
    queue: Mutex<Queue<T>>,
    condvar: Condvar,
}

/// [patch] The queue and how many threads wait for it, under one lock, so
/// that a push notifies (a system call) only when someone waits: the
/// server's I/O thread pushes every request, mostly while the loop is busy.
struct Queue<T> {
    items: VecDeque<Control<T>>,
    waiters: usize,
}

impl<T> Queue<T> {
    fn pop_front(&mut self) -> Option<Control<T>> {
        self.items.pop_front()
    }
}

impl<T> MessagesQueue<T>
where
    T: Send,
{
    pub fn with_capacity(capacity: usize) -> Arc<MessagesQueue<T>> {
        Arc::new(MessagesQueue {
            queue: Mutex::new(Queue {
                items: VecDeque::with_capacity(capacity),
                waiters: 0,
            }),
            condvar: Condvar::new(),
        })
    }

    /// Pushes an element to the queue.
    pub fn push(&self, value: T) {
        let mut queue = self.queue.lock().unwrap();
        queue.items.push_back(Control::Elem(value));
        if queue.waiters > 0 {
            self.condvar.notify_one();
        }
    }

    /// Unblock one thread stuck in pop loop.
    pub fn unblock(&self) {
        let mut queue = self.queue.lock().unwrap();
        queue.items.push_back(Control::Unblock);
        self.condvar.notify_one();
    }

    /// [patch] Ends a wait in `pop_timeout` (or the next one, if nobody
    /// waits now), like `unblock`, but pushes nothing when a wake-up is
    /// already the last thing queued: a burst of wakes costs one return.
    pub fn wake(&self) {
        let mut queue = self.queue.lock().unwrap();
        if !matches!(queue.items.back(), Some(Control::Unblock)) {
            queue.items.push_back(Control::Unblock);
        }
        self.condvar.notify_one();
    }

    /// Pops an element. Blocks until one is available.
    /// Returns None in case unblock() was issued.
    pub fn pop(&self) -> Option<T> {
        let mut queue = self.queue.lock().unwrap();

        loop {
            match queue.pop_front() {
                Some(Control::Elem(value)) => return Some(value),
                Some(Control::Unblock) => return None,
                None => (),
            }

            queue.waiters += 1;
            queue = self.condvar.wait(queue).unwrap();
            queue.waiters -= 1;
        }
    }

    /// Tries to pop an element without blocking.
    pub fn try_pop(&self) -> Option<T> {
        let mut queue = self.queue.lock().unwrap();
        match queue.pop_front() {
            Some(Control::Elem(value)) => Some(value),
            Some(Control::Unblock) | None => None,
        }
    }

    /// Tries to pop an element without blocking
    /// more than the specified timeout duration
    /// or unblock() was issued
    pub fn pop_timeout(&self, timeout: Duration) -> Option<T> {
        let mut queue = self.queue.lock().unwrap();
        let mut duration = timeout;
        loop {
            match queue.pop_front() {
                Some(Control::Elem(value)) => return Some(value),
                Some(Control::Unblock) => return None,
                None => (),
            }
            let now = Instant::now();
            // [patch] waits what is left, not `timeout` again after each
            // spurious wake-up
            queue.waiters += 1;
            let (_queue, result) = self.condvar.wait_timeout(queue, duration).unwrap();
            queue = _queue;
            queue.waiters -= 1;
            let sleep_time = now.elapsed();
            duration = if duration > sleep_time {
                duration - sleep_time
            } else {
                Duration::from_millis(0)
            };
            if result.timed_out()
                || (duration.as_secs() == 0 && duration.subsec_nanos() < 1_000_000)
            {
                return None;
            }
        }
    }
}
