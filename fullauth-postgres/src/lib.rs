//! fullauth backend on postgres (work in progress).
