"""The admin console: React (web/) built by vite into static/ (`make console`), served by myshop.sites."""
