"""The brand's roster: every creator it invited, worked with, saved or imported, with CSV in and out."""
