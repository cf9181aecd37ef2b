//! `Patch<T>`: the three states of a field in an update — absent keeps, null clears, a value sets.

/// One field of an update.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    /// Absent: keep the current value.
    #[default]
    Keep,
    /// `null`: clear the value (or reset it to its default where it cannot be empty).
    Clear,
    /// A value: set it.
    Set(T),
}

impl<T> Patch<T> {
    /// Whether the field was absent.
    pub fn is_keep(&self) -> bool {
        matches!(self, Self::Keep)
    }

    /// Applies the patch to an optional value.
    pub fn apply_to(self, current: &mut Option<T>) {
        match self {
            Self::Keep => {}
            Self::Clear => *current = None,
            Self::Set(v) => *current = Some(v),
        }
    }

    /// A reference to the new value, if one is set.
    pub fn as_set(&self) -> Option<&T> {
        match self {
            Self::Set(v) => Some(v),
            _ => None,
        }
    }
}

/// `None` = absent, `Some(None)` = null, `Some(Some(v))` = value: what serde gives for a
/// double option.
impl<T> From<Option<Option<T>>> for Patch<T> {
    fn from(v: Option<Option<T>>) -> Self {
        match v {
            None => Self::Keep,
            Some(None) => Self::Clear,
            Some(Some(v)) => Self::Set(v),
        }
    }
}
