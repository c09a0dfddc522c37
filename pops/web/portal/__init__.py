"""The full portal, a module per area: pages (Home, Account, Appointments, Statements), receipts,
pay (shared with QuickPay), profile. Templates mirror it under templates/portal/."""
