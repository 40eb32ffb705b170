//! fullauth backend on sqlite (work in progress).
