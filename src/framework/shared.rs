//! What the operations of one provider process share while it lives: Terraform walks the resources of a run in
//! parallel, in one provider process, and resources that must coordinate (one disruption at a time per
//! CockroachDB cluster, a CA rotation's steps taken together) meet here. One value of each type, made on first
//! use, handed to every operation in its context rather than kept in a static, so that each provider service, and
//! each test's, has its own.
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

type Entries = HashMap<TypeId, Arc<dyn Any + Send + Sync>>;

/// The values shared by the operations of one provider process, one of each type.
#[derive(Clone, Default)]
pub struct Shared(Arc<Mutex<Entries>>);

impl Shared {
    /// This process's `T`, made with `T::default()` the first time it is asked for.
    pub fn get<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        let mut entries = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = entries
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Arc::new(T::default()));
        // The entry of `TypeId::of::<T>()` is always a `T`.
        entry
            .clone()
            .downcast::<T>()
            .unwrap_or_else(|_| unreachable!("a shared entry holds the type it is keyed by"))
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        write!(f, "Shared({} entries)", entries.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Default)]
    struct Counter(AtomicUsize);

    #[test]
    fn one_value_per_type_per_process_and_none_across_processes() {
        let process = Shared::default();
        process.get::<Counter>().0.fetch_add(1, Ordering::SeqCst);
        let same_process = process.clone();
        assert_eq!(same_process.get::<Counter>().0.load(Ordering::SeqCst), 1);
        let other_process = Shared::default();
        assert_eq!(other_process.get::<Counter>().0.load(Ordering::SeqCst), 0);
    }
}
