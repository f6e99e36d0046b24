pub mod clock;
pub mod cockroach;
pub mod controllers;
