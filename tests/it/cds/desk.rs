//! The desk flow from a CDS scan to a published DS set.
