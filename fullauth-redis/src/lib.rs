//! fullauth backend on redis (work in progress).
